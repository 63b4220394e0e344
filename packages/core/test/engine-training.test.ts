import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../src/engine/index.js';
import type { OptimizerSpec, TrainingGraph } from '../src/engine/index.js';

/**
 * The training-step graph against a hand-written float64 reference: a 4-5-3 tanh MLP with
 * softmax cross-entropy, trained a few steps with SGD-momentum (plain and Nesterov, with weight
 * decay) and AdamW, with and without global-norm clipping. The reference follows PyTorch's
 * formulas; the graph must match it to rounding.
 */

const B = 6;
const DIMS = { w1: [4, 5], b1: [5], w2: [5, 3], b2: [3] } as const;
type Name = keyof typeof DIMS;
const NAMES: Name[] = ['w1', 'b1', 'w2', 'b2'];
type Params = Record<Name, Float64Array>;

function seq(n: number, f: (i: number) => number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => f(i));
}
const x = seq(B * 4, (i) => Math.sin(i * 0.7) * 1.5);
const y = [0, 2, 1, 1, 0, 2];
function initParams(): Params {
  return {
    w1: seq(20, (i) => Math.cos(i * 1.3) * 0.5),
    b1: seq(5, (i) => 0.1 * i - 0.2),
    w2: seq(15, (i) => Math.sin(i * 2.1) * 0.6),
    b2: seq(3, (i) => 0.05 * i),
  };
}

/** Loss and gradients of the MLP, by hand. */
function reference(p: Params): { loss: number; grads: Params } {
  const a1 = new Float64Array(B * 5);
  for (let r = 0; r < B; r++) {
    for (let j = 0; j < 5; j++) {
      let s = p.b1[j];
      for (let k = 0; k < 4; k++) s += x[r * 4 + k] * p.w1[k * 5 + j];
      a1[r * 5 + j] = Math.tanh(s);
    }
  }
  const dz = new Float64Array(B * 3);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const z = [0, 1, 2].map((c) => {
      let s = p.b2[c];
      for (let j = 0; j < 5; j++) s += a1[r * 5 + j] * p.w2[j * 3 + c];
      return s;
    });
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    loss += (lse - z[y[r]]) / B;
    for (let c = 0; c < 3; c++) dz[r * 3 + c] = (Math.exp(z[c] - lse) - (c === y[r] ? 1 : 0)) / B;
  }
  const g: Params = { w1: new Float64Array(20), b1: new Float64Array(5), w2: new Float64Array(15), b2: new Float64Array(3) };
  for (let r = 0; r < B; r++) {
    for (let c = 0; c < 3; c++) {
      g.b2[c] += dz[r * 3 + c];
      for (let j = 0; j < 5; j++) g.w2[j * 3 + c] += a1[r * 5 + j] * dz[r * 3 + c];
    }
    for (let j = 0; j < 5; j++) {
      let da = 0;
      for (let c = 0; c < 3; c++) da += dz[r * 3 + c] * p.w2[j * 3 + c];
      const dh = da * (1 - a1[r * 5 + j] ** 2);
      g.b1[j] += dh;
      for (let k = 0; k < 4; k++) g.w1[k * 5 + j] += x[r * 4 + k] * dh;
    }
  }
  return { loss, grads: g };
}

/** PyTorch-style optimiser steps on the reference. */
function referenceTrain(spec: OptimizerSpec, steps: number, lr: number, clip?: number) {
  const p = initParams();
  const state = new Map<string, Float64Array>();
  const zeros = (key: string, n: number): Float64Array => state.get(key) ?? state.set(key, new Float64Array(n)).get(key)!;
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const { loss, grads } = reference(p);
    losses.push(loss);
    if (clip !== undefined) {
      const norm = Math.sqrt(NAMES.reduce((s, n) => s + grads[n].reduce((a, v) => a + v * v, 0), 0));
      const coef = Math.min(1, clip / (norm + 1e-6));
      for (const n of NAMES) grads[n] = grads[n].map((v) => v * coef);
    }
    for (const n of NAMES) {
      const w = p[n];
      const g = grads[n];
      if (spec.kind === 'sgd') {
        const mu = spec.momentum ?? 0.9;
        const wd = spec.weightDecay ?? 0;
        const buf = zeros(`${n}.momentum`, w.length);
        for (let i = 0; i < w.length; i++) {
          const d = g[i] + wd * w[i];
          buf[i] = mu * buf[i] + d;
          w[i] -= lr * (spec.nesterov === true ? d + mu * buf[i] : buf[i]);
        }
      } else {
        const [b1, b2, eps, wd] = [spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.eps ?? 1e-8, spec.weightDecay ?? 0.01];
        const m = zeros(`${n}.m`, w.length);
        const v = zeros(`${n}.v`, w.length);
        for (let i = 0; i < w.length; i++) {
          w[i] *= 1 - lr * wd;
          m[i] = b1 * m[i] + (1 - b1) * g[i];
          v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
          const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
          w[i] -= (lr / (1 - b1 ** t)) * (m[i] / denom);
        }
      }
    }
  }
  return { params: p, losses };
}

function buildMlp(spec: OptimizerSpec, opts: { clip?: number; grads?: boolean } = {}): TrainingGraph {
  const g = new E.Graph({ dtype: 'float64' });
  const xin = g.input('x', [E.BATCH, 4]);
  const yin = g.input('y', [E.BATCH], 'int64');
  const p = Object.fromEntries(NAMES.map((n) => [n, g.param(n, DIMS[n])])) as Record<Name, E.Value>;
  const h = E.tanh(E.gemm(xin, p.w1, p.b1));
  const logits = E.add(E.matmul(h, p.w2), p.b2);
  const loss = E.softmaxCrossEntropy(logits, yin);
  return E.buildTrainingGraph({ loss, optimizer: spec, clipGradNorm: opts.clip, returnGradients: opts.grads, extraOutputs: { logits } });
}

async function engineTrain(spec: OptimizerSpec, steps: number, lr: number, clip?: number) {
  const tg = buildMlp(spec, { clip });
  const session = await E.createSession(tg.bytes, { intraOpThreads: 1 });
  const p = initParams();
  const values = new Map<string, Float64Array>(NAMES.map((n) => [n, p[n]]));
  for (const s of tg.inputs.state) values.set(s.name, new Float64Array(s.shape.reduce<number>((a, d) => a * (d as number), 1)));
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const feeds: Record<string, ReturnType<typeof E.toTensor>> = {
      x: E.toTensor('float64', x, [B, 4]),
      y: E.toTensor('int64', BigInt64Array.from(y.map(BigInt)), [B]),
      lr: E.toTensor('float64', Float64Array.of(lr), []),
    };
    if (tg.inputs.step !== null) feeds[tg.inputs.step] = E.toTensor('float64', Float64Array.of(t), []);
    for (const n of NAMES) feeds[n] = E.toTensor('float64', values.get(n)!, [...DIMS[n]]);
    for (const s of tg.inputs.state) feeds[s.name] = E.toTensor('float64', values.get(s.name)!, s.shape as number[]);
    const out = await E.runSession(session, feeds);
    losses.push((out.loss.data as Float64Array)[0]);
    tg.inputs.params.forEach((n, i) => values.set(n, out[tg.outputs.params[i]].data as Float64Array));
    tg.inputs.state.forEach((s, i) => values.set(s.name, out[tg.outputs.state[i]].data as Float64Array));
  }
  return { params: Object.fromEntries(NAMES.map((n) => [n, values.get(n)!])) as Params, losses };
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), Math.abs(b[i]), 1e-12));
  return m;
}

const specs: [string, OptimizerSpec, number, number | undefined][] = [
  ['SGD momentum', { kind: 'sgd', momentum: 0.9 }, 0.5, undefined],
  ['SGD Nesterov + weight decay', { kind: 'sgd', momentum: 0.8, nesterov: true, weightDecay: 0.01 }, 0.3, undefined],
  ['AdamW', { kind: 'adamw', beta1: 0.9, beta2: 0.99, weightDecay: 0.05 }, 0.05, undefined],
  ['SGD momentum + clipping', { kind: 'sgd', momentum: 0.9 }, 0.5, 0.05],
  ['AdamW + clipping', { kind: 'adamw' }, 0.05, 0.05],
];
for (const [label, spec, lr, clip] of specs) {
  test(`training graph: ${label} matches a float64 reference over 5 steps`, async () => {
    const ref = referenceTrain(spec, 5, lr, clip);
    const eng = await engineTrain(spec, 5, lr, clip);
    assert.ok(maxRelDiff(eng.losses, ref.losses) < 1e-12, `losses ${eng.losses} vs ${ref.losses}`);
    for (const n of NAMES) assert.ok(maxRelDiff(eng.params[n], ref.params[n]) < 1e-10, `${n}: ${maxRelDiff(eng.params[n], ref.params[n])}`);
    assert.ok(ref.losses[4] < ref.losses[0], 'the reference itself must learn');
  });
}

test('training graph: inputs and outputs are named and paired; raw gradients and grad_norm on request', async () => {
  const tg = buildMlp({ kind: 'adamw' }, { clip: 1e-3, grads: true });
  assert.deepEqual(tg.inputs.params, NAMES);
  assert.deepEqual(tg.outputs.params, NAMES.map((n) => `${n}.next`));
  assert.deepEqual(tg.inputs.state.map((s) => s.name), NAMES.flatMap((n) => [`${n}.exp_avg`, `${n}.exp_avg_sq`]));
  assert.deepEqual(tg.inputs.batch.map((t) => t.name), ['x', 'y']);
  assert.equal(tg.inputs.step, 'step');
  assert.deepEqual(tg.outputs.gradients, NAMES.map((n) => `${n}.grad`));
  assert.deepEqual(tg.outputs.extra, ['logits']);
  assert.deepEqual(tg.model.outputs.find((o) => o.name === 'logits')?.shape, ['N', 3]);

  const session = await E.createSession(tg.bytes);
  const p = initParams();
  const feeds: Record<string, ReturnType<typeof E.toTensor>> = {
    x: E.toTensor('float64', x, [B, 4]),
    y: E.toTensor('int64', BigInt64Array.from(y.map(BigInt)), [B]),
    lr: E.toTensor('float64', Float64Array.of(0.1), []),
    step: E.toTensor('float64', Float64Array.of(1), []),
  };
  for (const n of NAMES) feeds[n] = E.toTensor('float64', p[n], [...DIMS[n]]);
  for (const s of tg.inputs.state) feeds[s.name] = E.toTensor('float64', new Float64Array(s.shape.reduce<number>((a, d) => a * (d as number), 1)), s.shape as number[]);
  const out = await E.runSession(session, feeds);
  const { grads } = reference(initParams());
  // Raw gradients are the ones before clipping, even though the clip is tiny here.
  for (const n of NAMES) assert.ok(maxRelDiff(out[`${n}.grad`].data as Float64Array, grads[n]) < 1e-12);
  const norm = Math.sqrt(NAMES.reduce((s, n) => s + grads[n].reduce((a, v) => a + v * v, 0), 0));
  assert.ok(Math.abs((out.grad_norm.data as Float64Array)[0] - norm) < 1e-12 * norm);
  assert.deepEqual(out.logits.dims, [B, 3]);
});

test('training graph: typed errors for a non-scalar loss and for a non-parameter to train', () => {
  const g = new E.Graph();
  const xin = g.input('x', [E.BATCH, 2]);
  const w = g.param('w', [2, 2]);
  const out = E.matmul(xin, w);
  assert.throws(() => E.buildTrainingGraph({ loss: out, optimizer: { kind: 'sgd' } }), (e: unknown) => e instanceof E.EngineError && e.code === 'ENGINE_SHAPE');
  assert.throws(
    () => E.buildTrainingGraph({ loss: E.reduceSum(out), params: [xin], optimizer: { kind: 'sgd' } }),
    (e: unknown) => e instanceof E.EngineError && e.code === 'ENGINE_GRAPH',
  );
});
