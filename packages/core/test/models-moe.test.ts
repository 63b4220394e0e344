import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@fednode/kernels';
import * as E from '../src/engine/index.js';
import { ParamSet, extractSlice, resolveSlice } from '../src/index.js';
import { loadBalancingLoss, moeExpertSlice, topKMaskOf, transformerLM, transformerSpecs, transformerSubnetwork, type LblForm, type TransformerConfig } from '../src/models/index.js';

const P = [0.7, 0.2, 0.1, 0.6, 0.3, 0.1, 0.1, 0.8, 0.1, 0.2, 0.2, 0.6];

async function lbl(k: 1 | 2, form: LblForm): Promise<number> {
  const g = new E.Graph({ dtype: 'float64' });
  const p = g.input('p', [1, 4, 3]);
  const loss = loadBalancingLoss(p, topKMaskOf(p, k), { topK: k, alpha: 1, form });
  const s = await E.createSession(g.toModel({ outputs: [['lbl', loss]] }).bytes);
  return ((await E.runSession(s, { p: E.toTensor('float64', Float64Array.from(P), [1, 4, 3]) })).lbl.data as Float64Array)[0];
}

test('spec 7 load-balancing vectors: top-1 1.05; top-2 Megatron 1.10625, HF 2.2125', async () => {
  assert.ok(Math.abs((await lbl(1, 'megatron')) - 1.05) < 1e-12);
  assert.ok(Math.abs((await lbl(1, 'hf')) - 1.05) < 1e-12); // k = 1: both forms are Switch's
  assert.ok(Math.abs((await lbl(2, 'megatron')) - 1.10625) < 1e-12);
  assert.ok(Math.abs((await lbl(2, 'hf')) - 2.2125) < 1e-12);
});

test('top-k mask: exactly k ones per token, on the k largest probabilities', async () => {
  const g = new E.Graph({ dtype: 'float64' });
  const p = g.input('p', [4, 3]);
  const s = await E.createSession(g.toModel({ outputs: [['m', topKMaskOf(p, 2)]] }).bytes);
  const m = (await E.runSession(s, { p: E.toTensor('float64', Float64Array.from(P), [4, 3]) })).m.data as Float64Array;
  assert.deepEqual([...m.slice(0, 9)], [1, 1, 0, 1, 1, 0, 1, 1, 0]);
  // Row 3 is [.2, .2, .6]: a tie for second place; still exactly two experts, expert 2 among them.
  assert.equal(m[9] + m[10] + m[11], 2);
  assert.equal(m[11], 1);
});

test('global-batch LBL: the ranks\' terms with all-reduced counts sum to the LBL of the whole batch', async () => {
  const rng = new Rng(4);
  const e = 4;
  const rows = (n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = Array.from({ length: e }, () => rng.uniform() + 0.05);
      const s = r.reduce((a, b) => a + b, 0);
      out.push(...r.map((v) => v / s));
    }
    return Float64Array.from(out);
  };
  const p1 = rows(3);
  const p2 = rows(5);
  for (const form of ['megatron', 'hf'] as const) {
    const g = new E.Graph({ dtype: 'float64' });
    const a = g.input('a', [1, 3, e]);
    const b = g.input('b', [1, 5, e]);
    const counts = g.input('counts', [e]);
    const tokens = g.input('tokens', []);
    const ma = topKMaskOf(a, 2);
    const mb = topKMaskOf(b, 2);
    const whole = E.reshape(E.concat([E.reshape(a, [3, e]), E.reshape(b, [5, e])], 0), [1, 8, e]);
    const outputs: [string, E.Value][] = [
      ['ma', ma],
      ['mb', mb],
      ['ra', loadBalancingLoss(a, ma, { topK: 2, alpha: 0.7, form, global: { counts, tokens } })],
      ['rb', loadBalancingLoss(b, mb, { topK: 2, alpha: 0.7, form, global: { counts, tokens } })],
      ['all', loadBalancingLoss(whole, topKMaskOf(whole, 2), { topK: 2, alpha: 0.7, form })],
    ];
    const s = await E.createSession(g.toModel({ outputs }).bytes);
    const feeds = { a: E.toTensor('float64', p1, [1, 3, e]), b: E.toTensor('float64', p2, [1, 5, e]) };
    const first = await E.runSession(s, { ...feeds, counts: E.toTensor('float64', new Float64Array(e), [e]), tokens: E.toTensor('float64', Float64Array.of(8), []) });
    const c = new Float64Array(e);
    for (const m of [first.ma.data, first.mb.data] as Float64Array[]) m.forEach((v, i) => (c[i % e] += v));
    const out = await E.runSession(s, { ...feeds, counts: E.toTensor('float64', c, [e]), tokens: E.toTensor('float64', Float64Array.of(8), []) });
    const sum = (out.ra.data as Float64Array)[0] + (out.rb.data as Float64Array)[0];
    assert.ok(Math.abs(sum - (out.all.data as Float64Array)[0]) < 1e-12, `${form}: ${sum} vs ${(out.all.data as Float64Array)[0]}`);
  }
});

const moeCfg: TransformerConfig = { vocab: 11, seqLen: 6, dModel: 8, heads: 2, headDim: 4, ffDim: 8, layers: 2, moe: { experts: 4, topK: 2, ffDim: 6, alpha: 0.01 } };

function randomParams(specs: { name: string; shape: number[] }[], seed: number): ParamSet {
  const p = ParamSet.zeros(specs);
  const rng = new Rng(seed);
  for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal() * 0.3;
  return p;
}

async function forward(model: ReturnType<typeof transformerLM>, params: ParamSet, x: BigInt64Array, extra: [string, E.Value][] = []): Promise<Record<string, Float32Array>> {
  const s = await E.createSession(model.graph.toModel({ outputs: [['logits', model.logits], ...extra] }).bytes);
  const feeds: Record<string, import('onnxruntime-node').Tensor> = { x: E.toTensor('int64', x, [x.length / model.config.seqLen, model.config.seqLen]) };
  for (const p of model.graph.params) feeds[p.name] = E.toTensor('float32', params.tensor(p.name).slice(), p.shape as number[]);
  const out = await E.runSession(s, feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

test('expert slice: the sub-model over experts {0, 2} gives the logits of the full model with the other routers masked to −∞', async () => {
  const specs = transformerSpecs(moeCfg);
  const global = randomParams(specs, 9);
  const x = BigInt64Array.from({ length: 12 }, (_, i) => BigInt((i * 7) % 11));
  const masked = transformerLM({ ...moeCfg, route: [0, 2] });
  const full = await forward(masked, global, x, [['probs', masked.moeLayers[0].probs]]);
  // The masked experts get probability exactly 0.
  for (let i = 0; i < full.probs.length; i += 4) {
    assert.equal(full.probs[i + 1], 0);
    assert.equal(full.probs[i + 3], 0);
  }
  const sub = transformerSubnetwork(moeCfg, { experts: [2, 0] });
  assert.equal(sub.config.moe?.experts, 2);
  const local = extractSlice(global, resolveSlice(sub.slice, specs));
  const part = await forward(sub.build(), local, x);
  assert.equal(part.logits.length, full.logits.length);
  for (let i = 0; i < part.logits.length; i++) assert.ok(Math.abs(part.logits[i] - full.logits[i]) < 1e-5, `logit ${i}: ${part.logits[i]} vs ${full.logits[i]}`);
  assert.deepEqual(moeExpertSlice(moeCfg, [0, 2]), sub.slice);
});

test('expert sets that cannot route are refused with MODEL_SLICE', () => {
  assert.throws(() => transformerSubnetwork(moeCfg, { experts: [1] }), { code: 'MODEL_SLICE' });
  assert.throws(() => transformerSubnetwork(moeCfg, { experts: [0, 4] }), { code: 'MODEL_SLICE' });
  assert.throws(() => transformerSubnetwork({ ...moeCfg, moe: undefined }, { experts: [0, 1] }), { code: 'MODEL_SLICE' });
});

test('top-k over all the experts is a soft mixture: with identical experts it is the dense model, whatever the router', async () => {
  const soft: TransformerConfig = { ...moeCfg, moe: { ...moeCfg.moe!, topK: 4 } };
  const dense: TransformerConfig = { ...moeCfg, ffDim: 6, moe: undefined };
  const moeParams = randomParams(transformerSpecs(soft), 11);
  const denseParams = ParamSet.zeros(transformerSpecs(dense));
  for (const s of denseParams.specs) {
    const from = s.name.replace('.ff.', '.moe.');
    if (from === s.name) denseParams.tensor(s.name).set(moeParams.tensor(s.name));
    else {
      // Expert 0's feed-forward, copied into every expert of the mixture.
      const experts = moeParams.tensor(from);
      const one = experts.slice(0, s.shape.reduce((a, b) => a * b, 1));
      denseParams.tensor(s.name).set(one);
      for (let e = 1; e < 4; e++) experts.set(one, e * one.length);
    }
  }
  const x = BigInt64Array.from({ length: 12 }, (_, i) => BigInt((i * 5) % 11));
  const mixed = await forward(transformerLM(soft), moeParams, x);
  const plain = await forward(transformerLM(dense), denseParams, x);
  for (let i = 0; i < plain.logits.length; i++) assert.ok(Math.abs(mixed.logits[i] - plain.logits[i]) < 1e-5, `logit ${i}: ${mixed.logits[i]} vs ${plain.logits[i]}`);
});
