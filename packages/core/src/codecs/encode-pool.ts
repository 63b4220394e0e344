import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { CoreError, type CoreErrorCode } from '../errors.js';
import { compiledWorkerUrl } from '../worker-url.js';
import type { ParamSet } from '../tensor/paramset.js';
import type { CodecOptions, EncodedTensor, TensorCodecParams } from './types.js';
import { codecFor, resolveCodec } from './registry.js';
import type { ErrorFeedback } from './error-feedback.js';

export interface EncodeJob {
  readonly id: number;
  readonly tensors: readonly { index: number; shape: readonly number[]; params: TensorCodecParams; data: Float32Array; withResidual: boolean }[];
}

export type EncodeReply =
  | { readonly id: number; readonly out: readonly { index: number; payload: Uint8Array; residual: Float32Array | null }[] }
  | { readonly id: number; readonly error: { code: CoreErrorCode; message: string } };

/**
 * Encodes an update's tensors on several cores: the calling thread takes one share and
 * worker threads the others (tensors are split by size, largest first, onto the least
 * loaded lane). Results, residuals included, are exactly those of the single-threaded
 * encoders. Close the pool when done.
 */
export class EncodePool {
  private readonly workers: Worker[];
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: EncodeReply) => void; reject: (e: Error) => void }>();
  /** Jobs in flight per worker: a busy worker keeps the process alive, an idle one must not. */
  private readonly busy: number[];

  /** `workers` defaults to the cores beyond the calling thread's, at least 1. */
  constructor(workers = Math.max(1, availableParallelism() - 1)) {
    const url = compiledWorkerUrl(import.meta.url, './encode-worker.js');
    this.busy = new Array<number>(workers).fill(0);
    this.workers = Array.from({ length: workers }, (_, i) => {
      const w = new Worker(url);
      w.on('message', (r: EncodeReply) => {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        if (--this.busy[i] === 0) w.unref();
        p?.resolve(r);
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      w.unref();
      return w;
    });
  }

  async encode(delta: ParamSet, options: CodecOptions, feedback?: ErrorFeedback): Promise<EncodedTensor[]> {
    const items = delta.specs.map((spec, index) => {
      const d = delta.tensor(spec.name);
      const data = feedback ? feedback.carry(spec.name, d) : d;
      return { index, name: spec.name, shape: spec.shape, params: resolveCodec(options, spec.shape), data };
    });
    // Greedy balance by size; lane 0 is this thread.
    const lanes: (typeof items)[] = Array.from({ length: this.workers.length + 1 }, () => []);
    const load = new Array<number>(lanes.length).fill(0);
    for (const it of [...items].sort((a, b) => b.data.length - a.data.length || a.index - b.index)) {
      const l = load.indexOf(Math.min(...load));
      lanes[l].push(it);
      load[l] += it.data.length;
    }
    const replies = lanes.slice(1).map((lane, w) => {
      if (lane.length === 0) return Promise.resolve<EncodeReply>({ id: -1, out: [] });
      const id = this.nextId++;
      // Workers get copies (a plain delta stays the caller's); carried arrays are ours to transfer.
      const tensors = lane.map((it) => ({ index: it.index, shape: it.shape, params: it.params, data: feedback ? it.data : it.data.slice(), withResidual: feedback !== undefined }));
      return new Promise<EncodeReply>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        if (this.busy[w]++ === 0) this.workers[w].ref();
        this.workers[w].postMessage({ id, tensors } satisfies EncodeJob, tensors.map((t) => t.data.buffer as ArrayBuffer));
      });
    });
    const payloads: Uint8Array[] = new Array(items.length);
    // Idle workers are unref'd so a forgotten pool never holds the process open; while this
    // call waits for them, a timer keeps the event loop alive whatever their ref state.
    const keepAlive = setInterval(() => {}, 1 << 30);
    let all: EncodeReply[];
    try {
      for (const it of lanes[0]) {
        payloads[it.index] = codecFor(it.params).encode(it.data, it.shape, it.params, feedback?.residual(it.name));
      }
      all = await Promise.all(replies);
    } finally {
      clearInterval(keepAlive);
    }
    for (const r of all) {
      if ('error' in r) throw new CoreError(r.error.code, r.error.message);
      for (const o of r.out) {
        payloads[o.index] = o.payload;
        if (feedback && o.residual) feedback.setResidual(items[o.index].name, o.residual);
      }
    }
    return items.map((it) => ({ name: it.name, shape: it.shape, params: it.params, payload: payloads[it.index] }));
  }

  async close(): Promise<void> {
    // A worker's exit does not reliably keep the event loop alive once it has been unref'd:
    // hold it open with a timer until every worker has terminated.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      await Promise.all(this.workers.map((w) => w.terminate()));
    } finally {
      clearInterval(keepAlive);
    }
  }
}
