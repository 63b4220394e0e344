import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@fednode/kernels';
import { CharVocab, encodeCorpus } from '../src/text/index.js';
import { evaluateMlpSubnet, trainLanguageModel, trainMlpSupernet, type LabelledRows } from '../src/models/index.js';

test('trainLanguageModel: a tiny transformer learns a repeating text (held-out accuracy, tokens/s reported)', async () => {
  const text = 'abcdefg '.repeat(60);
  const vocab = CharVocab.fromTexts([text]);
  const corpus = encodeCorpus([{ name: 's', years: [], text }], vocab);
  const r = await trainLanguageModel({
    config: { vocab: vocab.size, seqLen: 8, dModel: 16, heads: 2, headDim: 8, ffDim: 32, layers: 1 },
    train: corpus,
    heldOut: corpus,
    steps: 60,
    batchSize: 8,
    lr: 1e-2,
    warmupSteps: 5,
    seed: 1,
    threads: 1,
    evalSamples: 64,
  });
  assert.equal(r.steps, 60);
  assert.ok(r.tokensPerSecond > 0);
  assert.ok(r.heldOut.accuracy > 0.9, `accuracy ${r.heldOut.accuracy}`);
  assert.ok(r.params.has('blocks.0.attn.q.weight'));
});

test('trainLanguageModel: the MoE variant trains too', async () => {
  const text = 'hello world, '.repeat(40);
  const vocab = CharVocab.fromTexts([text]);
  const corpus = encodeCorpus([{ name: 's', years: [], text }], vocab);
  const r = await trainLanguageModel({
    config: { vocab: vocab.size, seqLen: 8, dModel: 16, heads: 2, headDim: 8, ffDim: 32, layers: 1, moe: { experts: 3, topK: 2, ffDim: 16, alpha: 0.01 } },
    train: corpus,
    heldOut: corpus,
    steps: 60,
    batchSize: 8,
    lr: 1e-2,
    warmupSteps: 5,
    seed: 2,
    threads: 1,
    evalSamples: 64,
  });
  assert.ok(r.heldOut.accuracy > 0.8, `accuracy ${r.heldOut.accuracy}`);
});

/** Two Gaussian blobs per class in 6 dimensions: separable, so a few epochs reach high accuracy. */
function blobs(n: number, seed: number): LabelledRows {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 6);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.uniformInt(3);
    y[i] = c;
    for (let j = 0; j < 6; j++) x[i * 6 + j] = rng.normal() * 0.5 + (j % 3 === c ? 2 : 0);
  }
  return { x, y, count: n, features: 6 };
}

test('sandwich training with in-place distillation trains every width of the MLP supernet', async () => {
  const config = { inputs: 6, hidden: 32, depth: 2, classes: 3 };
  const train = blobs(512, 1);
  const test = blobs(256, 2);
  const r = await trainMlpSupernet({ config, train, epochs: 3, batchSize: 32, lr: 0.05, seed: 3, rule: { kind: 'sandwich', n: 3, min: 0.25, distill: true }, threads: 1 });
  assert.equal(r.steps, 48);
  assert.equal(r.subnetRuns, 144);
  for (const width of [0.25, 0.5, 1]) {
    const e = await evaluateMlpSubnet(config, r.params, { width }, test, { threads: 1 });
    assert.ok(e.accuracy > 0.9, `width ${width}: accuracy ${e.accuracy}`);
  }
  // The fixed rule trains only its own slice: the other units keep their initial values.
  const alone = await trainMlpSupernet({ config, train, epochs: 1, batchSize: 64, lr: 0.02, seed: 3, rule: { kind: 'fixed', width: 0.25 }, threads: 1 });
  const init = (await trainMlpSupernet({ config, train, epochs: 1, batchSize: 64, lr: 0, momentum: 0, seed: 3, rule: { kind: 'fixed', width: 0.25 }, threads: 1 })).params;
  const w = alone.params.tensor('fc1.weight');
  const w0 = init.tensor('fc1.weight');
  for (let row = 0; row < 32; row++) {
    const moved = w.subarray(row * 6, row * 6 + 6).some((v, j) => v !== w0[row * 6 + j]);
    assert.equal(moved, row < 8, `row ${row}`);
  }
});
