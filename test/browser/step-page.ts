/**
 * A page script for the engine-in-the-browser test and bench: trains the MNIST MLP with the
 * same Trainer the daemons use, on onnxruntime-web, and reports losses, parameters and step
 * throughput to the Node side (which calls these through page.evaluate).
 */
import { createWebExecutor, crossOriginIsolated, engine } from '@fednode/core/browser';
import { syntheticBatch, timeSteps } from './step-loop.js';

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

export interface StepRunnerReport {
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

let runner: { trainer: engine.Trainer; batch: ReturnType<typeof syntheticBatch> } | null = null;

/** Makes the page's MLP trainer for the bench (one per page) and warms it with `warmSteps` steps. */
async function prepareSteps(opts: { batch: number; threads: number; warmSteps: number }): Promise<StepRunnerReport> {
  const exec = await executor(opts.threads);
  const trainer = await engine.Trainer.create({ model: 'mlp', optimizer: { kind: 'sgd', momentum: 0.9 }, seed: 1, lr: 0.01, executor: exec });
  runner = { trainer, batch: syntheticBatch(opts.batch) };
  await timeSteps(trainer, runner.batch, opts.warmSteps);
  return { threads: opts.threads, isolated: crossOriginIsolated() };
}

/** Seconds `steps` steps of the prepared trainer take. */
function runSteps(steps: number): Promise<number> {
  if (runner === null) return Promise.reject(new Error('prepareSteps first'));
  return timeSteps(runner.trainer, runner.batch, steps);
}

const api = { probe, prepareSteps, runSteps };
export type StepPageApi = typeof api;
(globalThis as { fednodeStepPage?: StepPageApi }).fednodeStepPage = api;
