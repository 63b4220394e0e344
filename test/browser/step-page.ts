/**
 * A page script for the engine-in-the-browser test and bench: trains the MNIST MLP with the
 * same Trainer the daemons use, on onnxruntime-web, and reports losses, parameters and step
 * throughput to the Node side (which calls these through page.evaluate).
 */
import { createWebExecutor, crossOriginIsolated, engine } from '@fednode/core/browser';

export interface StepProbe {
  seed: number;
  lr: number;
  steps: number;
  threads: number;
  /** The batch: x as base64 float32 [size, 784], y as labels. */
  x64: string;
  y: number[];
}

export interface StepReport {
  provider: string;
  isolated: boolean;
  losses: number[];
  /** The parameters after the first step, base64 float32 in spec order. */
  paramsAfterFirst64: string;
}

export interface ThroughputReport {
  samplesPerS: number;
  msPerStep: number;
  threads: number;
  isolated: boolean;
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

const executors = new Map<number, Promise<engine.TensorExecutor>>();
function executor(threads: number): Promise<engine.TensorExecutor> {
  let e = executors.get(threads);
  if (e === undefined) {
    e = createWebExecutor({ wasmPaths: new URL('/ort/', import.meta.url).href, numThreads: threads, provider: 'wasm' });
    executors.set(threads, e);
  }
  return e;
}

async function probe(p: StepProbe): Promise<StepReport> {
  const exec = await executor(p.threads);
  const trainer = await engine.Trainer.create({ model: 'mlp', optimizer: { kind: 'sgd', momentum: 0.9 }, seed: p.seed, lr: p.lr, executor: exec });
  try {
    const xb = fromBase64(p.x64);
    const x = new Float32Array(xb.buffer, xb.byteOffset, xb.byteLength / 4);
    const batch = { size: p.y.length, x, y: BigInt64Array.from(p.y, (v) => BigInt(v)) };
    const losses = [await trainer.step(batch)];
    const first = (await trainer.params()).data;
    for (let i = 1; i < p.steps; i++) losses.push(await trainer.step(batch));
    return { provider: exec.provider, isolated: crossOriginIsolated(), losses, paramsAfterFirst64: toBase64(new Uint8Array(first.buffer, first.byteOffset, first.byteLength)) };
  } finally {
    await trainer.close();
  }
}

/** Samples/s of MLP steps at this batch size: the median of `repeats` timed runs of `steps` steps after a warm-up run. */
async function throughput(opts: { batch: number; steps: number; repeats: number; threads: number }): Promise<ThroughputReport> {
  const exec = await executor(opts.threads);
  const trainer = await engine.Trainer.create({ model: 'mlp', optimizer: { kind: 'sgd', momentum: 0.9 }, seed: 1, lr: 0.01, executor: exec });
  try {
    const x = new Float32Array(opts.batch * 784).map((_, i) => ((i * 2654435761) >>> 0) / 4294967296);
    const batch = { size: opts.batch, x, y: BigInt64Array.from({ length: opts.batch }, (_, i) => BigInt(i % 10)) };
    const run = async (): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < opts.steps; i++) await trainer.step(batch);
      return (performance.now() - t0) / 1000;
    };
    await run();
    const times: number[] = [];
    for (let r = 0; r < opts.repeats; r++) times.push(await run());
    times.sort((a, b) => a - b);
    const s = times[times.length >> 1] / opts.steps;
    return { samplesPerS: opts.batch / s, msPerStep: s * 1000, threads: opts.threads, isolated: crossOriginIsolated() };
  } finally {
    await trainer.close();
  }
}

const api = { probe, throughput };
export type StepPageApi = typeof api;
(globalThis as { fednodeStepPage?: StepPageApi }).fednodeStepPage = api;
