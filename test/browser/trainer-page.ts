/**
 * A page script for the browser-trainer tests: a BrowserTrainer joins the run it is given
 * (rows as base64 float32), keeps its state in page memory that the test can read back, and
 * records every event for the Node side.
 */
import { BrowserTrainer, type BrowserTrainerEvent, type SavedTrainer, type WebJoin } from '@fednode/node/browser';

export interface TrainerPageStart {
  join: WebJoin;
  psk: string;
  x64: string;
  y: number[];
  shard: number;
}

const events: BrowserTrainerEvent[] = [];
let saved: SavedTrainer | null = null;
let trainer: BrowserTrainer | null = null;

function floats(s: string): Float32Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return new Float32Array(out.buffer);
}

async function start(o: TrainerPageStart): Promise<string> {
  const x = floats(o.x64);
  trainer = await BrowserTrainer.create({
    join: o.join,
    psk: o.psk,
    rows: { name: 'mnist (page share)', count: o.y.length, features: 784, classes: 10, x, y: Uint8Array.from(o.y) },
    wasmPaths: new URL('/ort/', import.meta.url).href,
    memory: {
      load: async () => saved,
      save: async (s) => void (saved = s),
    },
    shard: o.shard,
    onEvent: (e) => events.push(e),
  });
  void trainer.run();
  return trainer.peerId;
}

const api = {
  start,
  events: (): BrowserTrainerEvent[] => events,
  saved: (): SavedTrainer | null => saved,
  bytesSent: (): number => trainer?.bytesSent ?? 0,
  stop: async (): Promise<void> => trainer?.stop(),
};
export type TrainerPageApi = typeof api;
(globalThis as { fednodeTrainerPage?: TrainerPageApi }).fednodeTrainerPage = api;
