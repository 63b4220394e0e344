/**
 * The example's trainer, in a dedicated worker: a hidden tab throttles its page's timers (to once
 * a minute after five minutes) but not a dedicated worker's, so the trainer's polls, retries and
 * training go on while the tab is in the background. The page keeps the state (localStorage is
 * the page's): it hands the saved state in with `start` and stores each `save` it is sent.
 */
import { BrowserTrainer, decodeShareFile, identityFromBytes, type BrowserTrainerEvent, type SavedTrainer, type WebJoin } from '@fednode/node/browser';
import type { WorkerStart } from './worker-link.js';
import { serveWorker } from './worker-scope.js';

export interface TrainerStart extends WorkerStart<WebJoin> {
  readonly saved: SavedTrainer | null;
  /** The page's stored identity: the aggregator counts one update per peer a round, across reloads. */
  readonly identity: Uint8Array;
}

serveWorker<TrainerStart, BrowserTrainerEvent, SavedTrainer>(async (m, post) => {
  const rows = decodeShareFile(m.share, m.shareName);
  let trainer: BrowserTrainer | null = null;
  trainer = await BrowserTrainer.create({
    join: m.join,
    psk: m.psk,
    rows,
    wasmPaths: m.wasmPaths,
    memory: {
      load: async () => m.saved,
      save: async (state) => post({ type: 'save', state }),
    },
    privateKey: identityFromBytes(m.identity),
    onEvent: (event) => post({ type: 'event', event, bytesSent: trainer?.bytesSent ?? 0 }),
  });
  post({ type: 'joined', peerId: trainer.peerId, rows: rows.count });
  await trainer.run();
});
