import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../src/engine/index.js';
import type { FloatArray, ModelGraph } from '../src/engine/index.js';

/**
 * Smoke tests of the MNIST models: the training-step graph runs on random data, its loss falls
 * over a few steps on a fixed batch, and the exported inference model (parameters baked in as
 * initializers, opset 17) gives the same logits as the engine.
 */

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const PARAM_COUNT = { mlp: 784 * 200 + 200 + 200 * 200 + 200 + 200 * 10 + 10, cnn: 32 * 25 + 32 + 64 * 32 * 25 + 64 + 3136 * 512 + 512 + 5120 + 10 };

async function smoke(name: 'mlp' | 'cnn', model: ModelGraph, steps: number, lr: number) {
  const tg = E.buildTrainingGraph({ loss: model.loss, optimizer: { kind: 'sgd', momentum: 0.9 }, extraOutputs: { logits: model.logits } });
  const uniform = lcg(42);
  const params = E.initParams(model.graph, uniform);
  assert.equal([...params.values()].reduce((a, p) => a + p.length, 0), PARAM_COUNT[name]);

  const batch = 16;
  const x = Float32Array.from({ length: batch * 784 }, () => uniform());
  const y = BigInt64Array.from({ length: batch }, () => BigInt(Math.floor(uniform() * 10)));
  const state = new Map<string, FloatArray>(tg.inputs.state.map((s) => [s.name, new Float32Array(s.shape.reduce<number>((a, d) => a * (d as number), 1))]));
  const session = await E.createSession(tg.bytes);
  const losses: number[] = [];
  let firstLogits: Float32Array | null = null;
  const initial = new Map(params);
  for (let t = 0; t < steps; t++) {
    const feeds: Record<string, ReturnType<typeof E.toTensor>> = {
      x: E.toTensor('float32', x, [batch, 784]),
      y: E.toTensor('int64', y, [batch]),
      lr: E.toTensor('float32', Float32Array.of(lr), []),
    };
    for (const p of model.graph.params) feeds[p.name] = E.toTensor('float32', params.get(p.name)!, p.shape as number[]);
    for (const s of tg.inputs.state) feeds[s.name] = E.toTensor('float32', state.get(s.name)!, s.shape as number[]);
    const out = await E.runSession(session, feeds);
    const loss = (out.loss.data as Float32Array)[0];
    assert.ok(Number.isFinite(loss));
    losses.push(loss);
    if (t === 0) firstLogits = (out.logits.data as Float32Array).slice();
    tg.inputs.params.forEach((n, i) => params.set(n, out[tg.outputs.params[i]].data as Float32Array));
    tg.inputs.state.forEach((s, i) => state.set(s.name, out[tg.outputs.state[i]].data as Float32Array));
  }
  // Default initialisation gives near-uniform predictions: the first loss is close to ln 10.
  assert.ok(Math.abs(losses[0] - Math.log(10)) < 0.3, `first loss ${losses[0]}`);
  // Memorising 16 random images: the loss must fall well below chance within the steps given.
  assert.ok(losses[steps - 1] < losses[0] - 0.6, `${name} losses did not fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);

  // The inference export: logits only, parameters as initializers, at opset 17.
  const exported = model.graph.toModel({ outputs: [['logits', model.logits]], initializers: initial });
  assert.deepEqual(exported.inputs.map((i) => i.name), ['x']);
  const infer = await E.createSession(exported.bytes);
  const out = await E.runSession(infer, { x: E.toTensor('float32', x, [batch, 784]) });
  const logits = out.logits.data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i] - firstLogits![i]));
  assert.ok(maxDiff < 1e-4, `exported logits differ by ${maxDiff}`);
  return losses;
}

test('models: mlp (784-200-200-10) trains on a fixed random batch and exports', async () => {
  const losses = await smoke('mlp', E.mlp(), 25, 0.05);
  console.log(`# mlp losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
});

test('models: cnn (conv32, pool, conv64, pool, fc512, fc10) trains on a fixed random batch and exports', async () => {
  const losses = await smoke('cnn', E.cnn(), 25, 0.05);
  console.log(`# cnn losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
});
