import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@fednode/kernels';
import { CharVocab, encodeCorpus, fillLmBatch, fillLmWindows, samplePositions } from '../src/text/index.js';
import { engine } from '../src/index.js';
import { evaluateMlpSubnet, lmEvalOutputs, trainMlpSupernet, transformerLM, type LabelledRows, type TransformerConfig } from '../src/models/index.js';

/** The engine's trainer on a character model of one repeated text, through the one schedule; held-out accuracy on its LEAF samples. */
async function learnText(text: string, config: TransformerConfig, seed: number): Promise<{ accuracy: number; names: string[] }> {
  const vocab = CharVocab.fromTexts([text]);
  const corpus = encodeCorpus([{ name: 's', years: [], text }], vocab);
  const c = { ...config, vocab: vocab.size };
  const trainer = await engine.Trainer.create({
    model: () => {
      const m = transformerLM(c);
      return { graph: m.graph, loss: m.loss, evaluation: lmEvalOutputs(m) };
    },
    optimizer: { kind: 'adamw', weightDecay: 0.01 },
    clipGradNorm: 1,
    seed,
    lr: 1e-2,
    intraOpThreads: 1,
  });
  try {
    const rng = new Rng(seed);
    const t = c.seqLen;
    const feeds = (x: BigInt64Array, y: BigInt64Array, n: number) => ({ size: n, feeds: { x: { dtype: 'int64' as const, dims: [n, t], data: x }, y: { dtype: 'int64' as const, dims: [n, t], data: y } } });
    for (let step = 0; step < 60; step++) {
      const x = new BigInt64Array(8 * t);
      const y = new BigInt64Array(8 * t);
      fillLmBatch(corpus, t, rng, x, y);
      await trainer.step(feeds(x, y, 8), engine.learningRate({ kind: 'cosine', warmupSteps: 5, minLrFraction: 0.1 }, 1e-2, step, 60));
    }
    const starts = samplePositions(corpus, t, 64);
    const x = new BigInt64Array(starts.length * t);
    const y = new BigInt64Array(starts.length * t);
    fillLmWindows(corpus, starts, t, x, y);
    const e = await trainer.evaluateBatches([feeds(x, y, starts.length)]);
    return { accuracy: e.accuracy, names: trainer.specs.map((sp) => sp.name) };
  } finally {
    await trainer.close();
  }
}

test('a tiny transformer learns a repeating text on the engine trainer (held-out accuracy)', async () => {
  const r = await learnText('abcdefg '.repeat(60), { vocab: 0, seqLen: 8, dModel: 16, heads: 2, headDim: 8, ffDim: 32, layers: 1 }, 1);
  assert.ok(r.accuracy > 0.9, `accuracy ${r.accuracy}`);
  assert.ok(r.names.includes('blocks.0.attn.q.weight'));
});

test('the MoE variant learns it too', async () => {
  const r = await learnText('hello world, '.repeat(40), { vocab: 0, seqLen: 8, dModel: 16, heads: 2, headDim: 8, ffDim: 32, layers: 1, moe: { experts: 3, topK: 2, ffDim: 16, alpha: 0.01 } }, 2);
  assert.ok(r.accuracy > 0.8, `accuracy ${r.accuracy}`);
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
