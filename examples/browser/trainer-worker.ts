/**
 * The example's trainer, in a dedicated worker: a hidden tab throttles its page's timers (to once
 * a minute after five minutes) but not a dedicated worker's, so the trainer's polls, retries and
 * training go on while the tab is in the background. The page keeps the state (localStorage is
 * the page's): it hands the saved state in with `start` and stores each `save` it is sent.
 */
import { BrowserTrainer, decodeShareFile, identityFromBytes, type BrowserTrainerEvent, type SavedTrainer, type WebJoin } from '@fednode/node/browser';

export interface StartMessage {
  readonly type: 'start';
  readonly join: WebJoin;
  readonly psk: string;
  readonly share: Uint8Array;
  readonly shareName: string;
  readonly wasmPaths: string;
  readonly saved: SavedTrainer | null;
  readonly identity: Uint8Array;
}

export type WorkerMessage =
  | { readonly type: 'joined'; readonly peerId: string; readonly rows: number }
  | { readonly type: 'event'; readonly event: BrowserTrainerEvent; readonly bytesSent: number }
  | { readonly type: 'save'; readonly state: SavedTrainer }
  | { readonly type: 'error'; readonly message: string };

interface WorkerScope {
  onmessage: ((ev: { data: StartMessage }) => void) | null;
  postMessage(m: WorkerMessage): void;
}
const scope = globalThis as unknown as WorkerScope;

async function start(m: StartMessage): Promise<void> {
  const rows = decodeShareFile(m.share, m.shareName);
  let trainer: BrowserTrainer | null = null;
  trainer = await BrowserTrainer.create({
    join: m.join,
    psk: m.psk,
    rows,
    wasmPaths: m.wasmPaths,
    memory: {
      load: async () => m.saved,
      save: async (state) => scope.postMessage({ type: 'save', state }),
    },
    privateKey: identityFromBytes(m.identity),
    onEvent: (event) => scope.postMessage({ type: 'event', event, bytesSent: trainer?.bytesSent ?? 0 }),
  });
  scope.postMessage({ type: 'joined', peerId: trainer.peerId, rows: rows.count });
  await trainer.run();
}

scope.onmessage = (ev) => {
  if (ev.data.type === 'start') start(ev.data).catch((e: unknown) => scope.postMessage({ type: 'error', message: (e as Error).message }));
};
