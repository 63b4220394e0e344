import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@fednode/kernels';
import * as E from '../src/engine/index.js';
import type { GradCheckInput, Graph, Value } from '../src/engine/index.js';
import { causalSelfAttention, moeFeedForward, transformerLM, type MoeConfig, type TransformerConfig } from '../src/models/index.js';

/**
 * Float64 gradient checks (central finite differences through onnxruntime, the engine's
 * gradCheck) of the transformer's pieces. GELU's Erf has only a float32 kernel in onnxruntime,
 * so feed-forwards use tanh here; GELU itself is checked in the engine's op tests.
 */
const BOUND = 1e-6;

function randn(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal() * scale);
}

/**
 * Every parameter of the graph as an input with random data. The key bias is fed but not
 * checked: its true gradient is exactly 0 (q·(k + b) shifts all of a query's scores by q·b, and
 * softmax ignores shifts), so the finite difference is pure rounding noise over a zero.
 */
function paramInputs(g: Graph, rng: Rng, scale = 0.3): GradCheckInput[] {
  return g.params.map((p): GradCheckInput => {
    const dims = p.shape as number[];
    const n = dims.reduce((a, b) => a * b, 1);
    // LayerNorm scales around 1 keep the block well-conditioned.
    const data = p.name.endsWith('ln1.weight') || p.name.endsWith('ln2.weight') || p.name === 'ln_f.weight' ? Float64Array.from(randn(rng, n, 0.1), (v) => 1 + v) : randn(rng, n, scale);
    return { value: p, data, dims, check: !p.name.endsWith('attn.k.bias') };
  });
}

test('causal multi-head attention: gradients of x and q/k/v/o match finite differences (float64)', async () => {
  const rng = new Rng(11);
  const r = await E.gradCheck(
    (g) => {
      const x = g.input('x', [2, 5, 6]);
      const y = causalSelfAttention(x, 'attn', { heads: 2, headDim: 3, scaleDim: 3 }, 0.3, 0.3);
      return { inputs: [{ value: x, data: randn(rng, 60), dims: [2, 5, 6] }, ...paramInputs(g, rng)], output: y };
    },
    { dtype: 'float64' },
  );
  assert.ok(r.maxRelError < BOUND, `max rel error ${r.maxRelError} ${JSON.stringify(r.perInput)}`);
});

test('causal mask: position t of the attention output does not depend on later positions', async () => {
  // d out[t] / d x[t'] = 0 for t' > t: perturb the last position and the earlier outputs stay put.
  const g = new E.Graph({ dtype: 'float64' });
  const x = g.input('x', [1, 4, 4]);
  const y = causalSelfAttention(x, 'a', { heads: 2, headDim: 2, scaleDim: 2 }, 0.5, 0.5);
  const s = await E.createSession(g.toModel({ outputs: [['y', y]] }).bytes);
  const rng = new Rng(3);
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
  for (const p of g.params) feeds[p.name] = E.toTensor('float64', randn(rng, (p.shape as number[]).reduce((a, b) => a * b, 1)), p.shape as number[]);
  const xd = randn(rng, 16);
  const a = (await E.runSession(s, { ...feeds, x: E.toTensor('float64', xd, [1, 4, 4]) })).y.data as Float64Array;
  xd[12] += 5; // position 3
  const b = (await E.runSession(s, { ...feeds, x: E.toTensor('float64', xd, [1, 4, 4]) })).y.data as Float64Array;
  for (let i = 0; i < 12; i++) assert.equal(a[i], b[i]);
  assert.notEqual(a[12], b[12]);
});

const tiny: TransformerConfig = { vocab: 7, seqLen: 4, dModel: 8, heads: 2, headDim: 3, ffDim: 6, layers: 2, activation: 'tanh' };

function tokens(rng: Rng, n: number, vocab: number): BigInt64Array {
  return BigInt64Array.from({ length: n }, () => BigInt(rng.uniformInt(vocab)));
}

/** gradCheck over a whole transformerLM graph (the builder creates its own Graph). */
async function gradCheckModel(cfg: TransformerConfig, rng: Rng, out: 'logits' | 'loss'): Promise<E.GradCheckResult> {
  let model: ReturnType<typeof transformerLM> | undefined;
  return E.gradCheck(
    (g) => {
      model = transformerLM(cfg, { dtype: 'float64', batch: 2, graph: g });
      const inputs: GradCheckInput[] = [
        { value: model.x, data: tokens(rng, 2 * cfg.seqLen, cfg.vocab), dims: [2, cfg.seqLen] },
        { value: model.y, data: tokens(rng, 2 * cfg.seqLen, cfg.vocab), dims: [2, cfg.seqLen] },
        ...paramInputs(g, rng),
      ].filter((i) => out === 'loss' || i.value !== model!.y);
      return { inputs, output: out === 'loss' ? model.loss : model.logits };
    },
    { dtype: 'float64' },
  );
}

test('pre-norm transformer blocks (LayerNorm, causal attention, feed-forward) and the LM loss: gradients match (float64)', async () => {
  const r = await gradCheckModel(tiny, new Rng(5), 'loss');
  assert.ok(r.maxRelError < BOUND, `max rel error ${r.maxRelError} ${JSON.stringify(r.perInput)}`);
  const l = await gradCheckModel({ ...tiny, layers: 1 }, new Rng(6), 'logits');
  assert.ok(l.maxRelError < BOUND, `logits: max rel error ${l.maxRelError}`);
});

function moeCheck(c: MoeConfig, seed: number, route?: number[]) {
  const rng = new Rng(seed);
  return E.gradCheck(
    (g) => {
      const x = g.input('x', [2, 3, 4]);
      const layer = moeFeedForward(x, 'moe', c, { route, initStd: 0.5 });
      const inputs: GradCheckInput[] = [{ value: x, data: randn(rng, 24), dims: [2, 3, 4] }, ...paramInputs(g, rng, 0.5)];
      for (const i of g.inputs) {
        if (i.name === 'moe.counts') inputs.push({ value: i, data: Float64Array.of(5, 2, 3, 2), dims: [4], check: false });
        if (i.name === 'moe.tokens') inputs.push({ value: i, data: Float64Array.of(6), dims: [], check: false });
      }
      // L = Σ R·(y + aux): one check covers the expert outputs, the gate and the load-balancing loss.
      const output: Value = layer.aux === null ? layer.y : E.add(layer.y, layer.aux);
      return { inputs, output };
    },
    { dtype: 'float64' },
  );
}

test('MoE layer with top-2 normalised gating and the Megatron load-balancing loss: gradients match (float64)', async () => {
  const r = await moeCheck({ experts: 4, topK: 2, ffDim: 5, alpha: 0.5, activation: 'tanh' }, 21);
  assert.ok(r.maxRelError < BOUND, `max rel error ${r.maxRelError} ${JSON.stringify(r.perInput)}`);
});

test('MoE layer with top-1 unnormalised gating, HF-form LBL and restricted routing: gradients match (float64)', async () => {
  const r = await moeCheck({ experts: 4, topK: 1, ffDim: 5, alpha: 0.3, form: 'hf', activation: 'relu' }, 22, [0, 2, 3]);
  assert.ok(r.maxRelError < BOUND, `max rel error ${r.maxRelError} ${JSON.stringify(r.perInput)}`);
});

test('MoE layer with global-batch counts as inputs: gradients match (float64)', async () => {
  const r = await moeCheck({ experts: 4, topK: 2, ffDim: 3, alpha: 1, globalCounts: true, activation: 'tanh' }, 23);
  assert.ok(r.maxRelError < BOUND, `max rel error ${r.maxRelError} ${JSON.stringify(r.perInput)}`);
});

test('MoE transformer LM loss (experts in every block, LBL added): gradients match (float64)', async () => {
  const r = await gradCheckModel({ ...tiny, layers: 1, moe: { experts: 3, topK: 2, ffDim: 4, alpha: 0.1, activation: 'tanh' } }, new Rng(8), 'loss');
  assert.ok(r.maxRelError < BOUND, `max rel error ${r.maxRelError} ${JSON.stringify(r.perInput)}`);
});
