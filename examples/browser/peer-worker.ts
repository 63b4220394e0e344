/**
 * The example's decentralised peer, in a dedicated worker for the same reason as the trainer: a
 * hidden tab's timers are throttled, and a peer that misses a step's timeout is dropped by the
 * others. Nothing is kept between reloads (a reloaded page joins as a new member), so this
 * worker asks the page to save nothing.
 */
import { BrowserPeer, decodeShareFile, type BrowserPeerEvent, type PeerWebJoin } from '@fednode/node/browser';
import type { WorkerStart } from './worker-link.js';
import { serveWorker } from './worker-scope.js';

export interface PeerStart extends WorkerStart<PeerWebJoin> {
  /** Held-out rows (a share file) scored when the run evaluates, as the daemon peers score theirs. */
  readonly held: Uint8Array;
}

serveWorker<PeerStart, BrowserPeerEvent, never>(async (m, post) => {
  const rows = decodeShareFile(m.share, m.shareName);
  let peer: BrowserPeer | null = null;
  peer = await BrowserPeer.create({
    join: m.join,
    psk: m.psk,
    rows,
    evalRows: decodeShareFile(m.held, 'the held-out rows'),
    wasmPaths: m.wasmPaths,
    // Steps, hashes and evaluations come as their own events; the log adds only what went wrong.
    logLevel: 'warn',
    onEvent: (event) => post({ type: 'event', event, bytesSent: peer?.status().bytesSentTotal ?? 0 }),
  });
  post({ type: 'joined', peerId: peer.peerId, rows: rows.count });
  await peer.start();
  try {
    await peer.done;
  } finally {
    await peer.stop();
  }
});
