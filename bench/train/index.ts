/**
 * Training-step throughput of the engine against onnxruntime's own peak on this machine: each
 * bench times steps of a Trainer (through the worker executor, as real training runs them) at
 * batch 64 with 2 intra-op threads, alternating with a 1024^3 MatMul session (also 2 threads)
 * in the same run. The units differ (samples/s against GFLOP/s), so `detail` also converts the
 * step to GFLOP/s from its FLOP count and gives the share of the MatMul's rate it reaches.
 */
import { engine, type Batch } from '@fednode/core';
import { median, round, type Bench, type BenchResult } from '../harness.js';

const BATCH = 64;
const THREADS = 2;

/**
 * Multiply-adds x 2 per sample of a training step: the forward pass, plus twice it for the
 * backward (input and weight gradients), less the input gradient the first layer skips.
 */
const FLOP_PER_SAMPLE: Record<engine.ModelName, number> = (() => {
  const mlpFwd = 2 * (784 * 200 + 200 * 200 + 200 * 10);
  const conv1 = 2 * 28 * 28 * 32 * 25;
  const conv2 = 2 * 14 * 14 * 64 * 32 * 25;
  const fc = 2 * (3136 * 512 + 512 * 10);
  return { mlp: 3 * mlpFwd - 2 * 784 * 200, cnn: 3 * (conv1 + conv2 + fc) - conv1 };
})();

function fill(a: Float32Array, seed: number): Float32Array {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296;
  }
  return a;
}

async function matmulRunner(): Promise<() => Promise<void>> {
  const g = new engine.Graph();
  const a = g.input('a', [1024, 1024]);
  const b = g.input('b', [1024, 1024]);
  const c = engine.matmul(a, b);
  const session = await engine.createSession(g.toModel({ outputs: [['c', c]] }).bytes, { intraOpThreads: THREADS });
  const x = fill(new Float32Array(1 << 20), 1);
  const feeds = { a: engine.toTensor('float32', x, [1024, 1024]), b: engine.toTensor('float32', x, [1024, 1024]) };
  return async () => {
    await session.run(feeds);
  };
}

async function seconds(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function stepBench(model: engine.ModelName, stepsPerRepeat: number): Promise<BenchResult> {
  const trainer = await engine.Trainer.create({ model, optimizer: { kind: 'sgd', momentum: 0.9 }, seed: 1, lr: 0.01, intraOpThreads: THREADS });
  try {
    const batch: Batch = { size: BATCH, x: fill(new Float32Array(BATCH * 784), 2), y: BigInt64Array.from({ length: BATCH }, (_, i) => BigInt(i % 10)) };
    // Two steps in flight, as tasks.trainLocal runs them.
    const steps = async (): Promise<void> => {
      const inflight: Promise<number>[] = [];
      for (let i = 0; i < stepsPerRepeat; i++) {
        inflight.push(trainer.step(batch));
        if (inflight.length >= 2) await inflight.shift();
      }
      await Promise.all(inflight);
    };
    const matmul = await matmulRunner();
    const matmuls = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) await matmul();
    };
    await steps();
    await matmuls();
    const s: number[] = [];
    const m: number[] = [];
    for (let r = 0; r < 5; r++) {
      s.push(await seconds(steps));
      m.push(await seconds(matmuls));
    }
    const stepS = median(s) / stepsPerRepeat;
    const samplesPerS = BATCH / stepS;
    const gflops = (3 * 2 * 1024 ** 3) / median(m) / 1e9;
    const stepGflops = (samplesPerS * FLOP_PER_SAMPLE[model]) / 1e9;
    return {
      name: `train.${model}.step`,
      value: round(samplesPerS),
      unit: 'samples/s',
      baseline: { name: 'ort.matmul1024', value: round(gflops), unit: 'GFLOP/s' },
      ratio: round(samplesPerS / gflops),
      detail: {
        meaning: 'ratio = training samples/s per GFLOP/s of a 1024^3 MatMul in the same run; share_of_peak = the step\'s own GFLOP/s over the MatMul\'s',
        batch: BATCH,
        threads: THREADS,
        ms: round(stepS * 1e3),
        flop_per_sample: FLOP_PER_SAMPLE[model],
        step_gflops: round(stepGflops),
        share_of_peak: round(stepGflops / gflops),
      },
    };
  } finally {
    await trainer.close();
  }
}

export const trainBenches: Bench[] = [
  { group: 'train', name: 'train.mlp.step', run: () => stepBench('mlp', 200) },
  { group: 'train', name: 'train.cnn.step', run: () => stepBench('cnn', 10) },
];
