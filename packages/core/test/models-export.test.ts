import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Rng } from '@fednode/kernels';
import * as E from '../src/engine/index.js';
import { ParamSet, extractSlice, resolveSlice } from '../src/index.js';
import {
  exportOnnx,
  mlpSubnetSlice,
  mlpSupernetModel,
  mlpSupernetSpecs,
  transformerLM,
  transformerSpecs,
  transformerSubnetwork,
  type ExportableModel,
  type TransformerConfig,
} from '../src/models/index.js';

/**
 * Export parity: the standalone inference file, run by a plain onnxruntime InferenceSession
 * with nothing but `x`, gives the logits of the training graph's forward (parameters fed as
 * inputs) for the same parameters.
 */

function randomSet(specs: { name: string; shape: number[] }[], seed: number): ParamSet {
  const p = ParamSet.zeros(specs);
  const rng = new Rng(seed);
  for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal() * 0.2;
  return p;
}

async function parity(model: ExportableModel & { graph: E.Graph }, params: ParamSet, x: ort.Tensor): Promise<void> {
  // The training graph's forward: parameters as inputs.
  const s = await E.createSession(model.graph.toModel({ outputs: [['logits', model.logits]] }).bytes);
  const feeds: Record<string, ort.Tensor> = { x };
  for (const p of model.graph.params) feeds[p.name] = E.toTensor('float32', params.tensor(p.name).slice(), p.shape as number[]);
  const want = (await E.runSession(s, feeds)).logits;

  const bytes = exportOnnx(model, params, { note: 'test' });
  const decoded = E.decodeModel(bytes) as { opsetImport: { version: number }[]; graph: { input: { name: string }[] } };
  assert.deepEqual(decoded.opsetImport.map((o) => o.version), [17]);
  assert.deepEqual(decoded.graph.input.map((i) => i.name), ['x']);
  const plain = await ort.InferenceSession.create(bytes);
  const got = (await plain.run({ x })).logits;
  assert.deepEqual(got.dims, want.dims);
  const a = got.data as Float32Array;
  const b = want.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst < 1e-5, `max |diff| ${worst}`);
}

const cfg: TransformerConfig = { vocab: 13, seqLen: 8, dModel: 16, heads: 4, headDim: 4, ffDim: 24, layers: 2 };
const tokens = (n: number, t: number, v: number) => new ort.Tensor('int64', BigInt64Array.from({ length: n * t }, (_, i) => BigInt((i * 5 + 3) % v)), [n, t]);

test('export parity: full transformer LM', async () => {
  const params = randomSet(transformerSpecs(cfg), 1);
  await parity(transformerLM(cfg), params, tokens(3, cfg.seqLen, cfg.vocab));
});

test('export parity: transformer sub-networks (HeteroFL and FedRolex slices of the supernet)', async () => {
  const global = randomSet(transformerSpecs(cfg), 2);
  for (const [sub, sel] of [
    [{ width: 0.5, heads: 3, depth: 1 }, { mode: 'heterofl' }],
    [{ width: 0.25 }, { mode: 'fedrolex', round: 5 }],
  ] as const) {
    const sn = transformerSubnetwork(cfg, sub, sel);
    const local = extractSlice(global, resolveSlice(sn.slice, transformerSpecs(cfg)));
    await parity(sn.build(), local, tokens(2, cfg.seqLen, cfg.vocab));
  }
});

test('export parity: MoE transformer and an expert slice of it', async () => {
  const moe: TransformerConfig = { ...cfg, moe: { experts: 4, topK: 2, ffDim: 8 } };
  const global = randomSet(transformerSpecs(moe), 3);
  await parity(transformerLM(moe), global, tokens(2, cfg.seqLen, cfg.vocab));
  const sn = transformerSubnetwork(moe, { experts: [0, 3] });
  await parity(sn.build(), extractSlice(global, resolveSlice(sn.slice, transformerSpecs(moe))), tokens(2, cfg.seqLen, cfg.vocab));
});

test('export parity: MLP supernet sub-network (width 0.25, distillation inputs pruned)', async () => {
  const c = { inputs: 20, hidden: 16, depth: 2, classes: 5 };
  const global = randomSet(mlpSupernetSpecs(c), 4);
  const sub = { width: 0.25 };
  const local = extractSlice(global, resolveSlice(mlpSubnetSlice(c, sub), mlpSupernetSpecs(c)));
  const x = new ort.Tensor('float32', Float32Array.from({ length: 60 }, (_, i) => Math.sin(i)), [3, 20]);
  await parity(mlpSupernetModel(c, sub, { distill: true }), local, x);
});

test('export refuses a parameter set that lacks a tensor', () => {
  const c = { inputs: 4, hidden: 4, depth: 1, classes: 2 };
  const p = ParamSet.zeros(mlpSupernetSpecs(c).filter((s) => s.name !== 'head.bias'));
  assert.throws(() => exportOnnx(mlpSupernetModel(c), p), { code: 'MODEL_SLICE' });
});
