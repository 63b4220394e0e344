/**
 * A decentralised run's view: the peer runs in peer-worker.ts and steps with the run's other
 * peers; the page shows each step, the contributors the step aggregated, the checkpoints'
 * hashes and whether the other peers agreed, and the held-out accuracy when the run evaluates.
 */
import type { BrowserPeerEvent, PeerWebJoin } from '@fednode/node/browser';
import { record } from './app-state.js';
import type { PageRunner } from './page-runner.js';
import type { PeerStart } from './peer-worker.js';
import { say, setProgress, setText } from './ui.js';
import { startWorker } from './worker-link.js';

const short = (id: string): string => `…${id.slice(-8)}`;

function shower(j: PeerWebJoin): (e: BrowserPeerEvent, bytesSent: number) => void {
  const steps = j.settings.steps;
  return (e, bytesSent) => {
    record(e);
    switch (e.kind) {
      case 'step': {
        const r = e.record;
        setText('state', 'training');
        setText('step', `${r.step + 1} of ${steps}`);
        setProgress(r.step + 1, steps);
        setText('loss', r.loss.toFixed(4));
        setText('bytes', bytesSent.toLocaleString());
        setText('contributors', `${r.contributors.length}: ${r.contributors.map(short).join(' ')}`);
        if (r.dropped.length > 0) say(`step ${r.step}: dropped ${r.dropped.map(short).join(' ')} (no contribution in time)`, true);
        break;
      }
      case 'hash':
        setText('checkpoint', `step ${e.step}: ${e.hash.slice(0, 16)}… ${e.disagree === 0 ? `agreed by ${e.agree}` : `${e.disagree} disagree, ${e.agree} agree`}`);
        break;
      case 'evaluated':
        setText('held-out', `${(e.accuracy * 100).toFixed(2)} % (step ${e.step})`);
        say(`step ${e.step}: held-out accuracy ${(e.accuracy * 100).toFixed(2)} %, loss ${e.loss.toFixed(4)}`);
        break;
      case 'joined':
        say(e.rejoin ? `back after losing the network: re-joined at step ${e.step} (parameters from ${short(e.from)}, own momentum kept)` : `joined the run in progress at step ${e.step} (state from ${short(e.from)})`);
        break;
      case 'done':
        setText('state', `the run is over at step ${e.step}`);
        setText('checkpoint', `step ${e.step}: ${e.hash.slice(0, 16)}… (final)`);
        say(`the run is over at step ${e.step}: parameters ${e.hash}`);
        break;
      case 'error':
        say(e.message, true);
        break;
      case 'log':
        say(`${e.event} ${JSON.stringify(e.fields)}`, e.level !== 'info');
        break;
    }
  };
}

export const runPeer: PageRunner<PeerWebJoin> = async (j, ctx) => {
  const held = new Uint8Array(await (await fetch(new URL('eval.bin', ctx.joinUrl))).arrayBuffer());
  const start: PeerStart = { type: 'start', join: j, psk: ctx.psk, share: ctx.share, shareName: ctx.shareName, wasmPaths: ctx.wasmPaths, held };
  const joined = (peerId: string, rows: number): void => {
    ctx.joined(peerId, rows);
    setText('state', `waiting for ${j.settings.minPeers} peers`);
  };
  startWorker<PeerStart, BrowserPeerEvent, never>('peer-worker.js', start, [ctx.share.buffer, held.buffer], { joined, fail: ctx.fail, event: shower(j) });
};
