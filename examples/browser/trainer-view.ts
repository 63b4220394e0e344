/**
 * A federated run's view: the trainer runs in trainer-worker.ts; its identity, sequence number
 * and error-feedback residual live in this page's localStorage, so a dropped connection or a
 * reloaded tab resumes where it stopped.
 */
import type { BrowserTrainerEvent, SavedTrainer, WebJoin } from '@fednode/node/browser';
import { app, record } from './app-state.js';
import type { PageRunner } from './page-runner.js';
import type { TrainerSave, TrainerStart } from './trainer-worker.js';
import { fromBase64, say, setProgress, setText, toBase64 } from './ui.js';
import { startWorker } from './worker-link.js';

/** The trainer's state in localStorage, one entry per run (the residual as base64). */
function loadState(runId: string): SavedTrainer | null {
  const raw = localStorage.getItem(`fednode:${runId}:trainer`);
  if (raw === null) return null;
  const s = JSON.parse(raw) as Omit<SavedTrainer, 'residual'> & { residual: string | null };
  return { ...s, residual: s.residual === null ? null : fromBase64(s.residual) };
}

const identityKey = (runId: string): string => `fednode:${runId}:identity`;

/** The identity the worker made the first time (libp2p's key bytes), so a reloaded tab is the same peer. */
function loadIdentity(runId: string): Uint8Array | null {
  const raw = localStorage.getItem(identityKey(runId));
  return raw === null ? null : fromBase64(raw);
}

function saver(runId: string): (s: TrainerSave) => void {
  return (s) => {
    if (s.kind === 'identity') {
      localStorage.setItem(identityKey(runId), toBase64(s.bytes));
      return;
    }
    localStorage.setItem(`fednode:${runId}:trainer`, JSON.stringify({ ...s.state, residual: s.state.residual === null ? null : toBase64(s.state.residual) }));
    app.saved = s.state;
  };
}

let accepted = 0;
function show(e: BrowserTrainerEvent, bytesSent: number): void {
  record(e);
  switch (e.kind) {
    case 'status': {
      setText('round', `${e.status.round} / ${e.status.version} of ${e.status.rounds}`);
      const acc = e.status.lastMetrics?.accuracy;
      if (acc !== undefined) setText('accuracy', `${(acc * 100).toFixed(2)} %`);
      setText('state', e.status.done ? 'the run is over' : 'connected');
      break;
    }
    case 'unreachable':
      setText('state', 'reconnecting…');
      say(`the aggregator is unreachable (${e.reason}); retrying`, true);
      break;
    case 'pulled':
      setText('state', `training round ${e.round}`);
      say(`pulled version ${e.version} for round ${e.round}`);
      break;
    case 'step':
      setProgress(e.done, e.total);
      setText('loss', e.loss.toFixed(4));
      break;
    case 'pushed':
      accepted++;
      setText('accepted', String(accepted));
      setText('bytes', bytesSent.toLocaleString());
      say(`round ${e.round}: update ${e.outcome} (${e.bytes.toLocaleString()} bytes, loss ${e.loss.toFixed(4)})`);
      break;
    case 'refused':
      say(`round ${e.round}: refused ${e.code}: ${e.reason}`, true);
      break;
    case 'missed':
      say(`round ${e.round} missed: ${e.reason}`, true);
      break;
    case 'done':
      setText('state', `the run is over at version ${e.version}`);
      say(`the run is over at version ${e.version}`);
      break;
  }
}

export const runTrainer: PageRunner<WebJoin> = async (j, ctx) => {
  const start: TrainerStart = {
    type: 'start',
    join: j,
    psk: ctx.psk,
    share: ctx.share,
    shareName: ctx.shareName,
    wasmPaths: ctx.wasmPaths,
    saved: loadState(j.runId),
    identity: loadIdentity(j.runId),
  };
  startWorker<TrainerStart, BrowserTrainerEvent, TrainerSave>('trainer-worker.js', start, [ctx.share.buffer], { joined: ctx.joined, fail: ctx.fail, event: show, save: saver(j.runId) });
};
