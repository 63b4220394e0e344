/**
 * The example's trainer, in a dedicated worker: a hidden tab throttles its page's timers (to once
 * a minute after five minutes) but not a dedicated worker's, so the trainer's polls, retries and
 * training go on while the tab is in the background. The page keeps the state (localStorage is
 * the page's): it hands the saved state in with `start` and stores each `save` it is sent.
 */
import { BrowserTrainer, decodeShareFile, generateIdentity, identityFromBytes, identityToBytes, type BrowserTrainerEvent, type SavedTrainer, type WebJoin } from '@fednode/node/browser';
import type { WorkerStart } from './worker-link.js';
import { serveWorker } from './worker-scope.js';

export interface TrainerStart extends WorkerStart<WebJoin> {
  readonly saved: SavedTrainer | null;
  /**
   * The page's stored identity (libp2p's key bytes), null the first time: the aggregator counts
   * one update per peer a round, so a reloaded tab keeps its identity.
   */
  readonly identity: Uint8Array | null;
}

/** What the page keeps for the trainer: its state, and the identity made the first time. */
export type TrainerSave = { readonly kind: 'state'; readonly state: SavedTrainer } | { readonly kind: 'identity'; readonly bytes: Uint8Array };

serveWorker<TrainerStart, BrowserTrainerEvent, TrainerSave>(async (m, post) => {
  const rows = decodeShareFile(m.share, m.shareName);
  // Made here rather than in the page, so the page's bundle carries no libp2p.
  let identity = m.identity;
  if (identity === null) {
    identity = identityToBytes(await generateIdentity());
    post({ type: 'save', state: { kind: 'identity', bytes: identity } });
  }
  let trainer: BrowserTrainer | null = null;
  trainer = await BrowserTrainer.create({
    join: m.join,
    psk: m.psk,
    rows,
    wasmPaths: m.wasmPaths,
    memory: {
      load: async () => m.saved,
      save: async (state) => post({ type: 'save', state: { kind: 'state', state } }),
    },
    privateKey: identityFromBytes(identity),
    onEvent: (event) => post({ type: 'event', event, bytesSent: trainer?.bytesSent ?? 0 }),
  });
  post({ type: 'joined', peerId: trainer.peerId, rows: rows.count });
  await trainer.run();
});
