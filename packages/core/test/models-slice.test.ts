import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@fednode/kernels';
import { ParamSet, extractSlice, resolveSlice, scatterSlice, sliceCoverage, type Slice } from '../src/index.js';
import {
  MNIST_MLP_SUPERNET,
  mlpSubnetSlice,
  mlpSupernetModel,
  mlpSupernetSpecs,
  sandwichWidths,
  selectUnits,
  transformerSpecs,
  transformerSubnetwork,
  unitIndices,
  unitsFor,
  type MlpSupernetConfig,
  type TransformerConfig,
  type WidthSelection,
} from '../src/models/index.js';

type Specs = { name: string; shape: number[] }[];

function randomSet(specs: Specs, seed: number): ParamSet {
  const p = ParamSet.zeros(specs);
  const rng = new Rng(seed);
  for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal();
  return p;
}

/** Scatters a changed local copy back: exactly the covered elements change, to the local values. */
function roundTrip(specs: Specs, slice: Slice, localShapes: Map<string, number[]>): void {
  const global = randomSet(specs, 1);
  const resolved = resolveSlice(slice, specs);
  for (const t of resolved.tensors) assert.deepEqual([...t.localShape], localShapes.get(t.name), `local shape of ${t.name}`);
  assert.equal(resolved.tensors.length, localShapes.size, 'the slice holds exactly the sub-model\'s tensors');
  const local = extractSlice(global, resolved);
  for (let i = 0; i < local.data.length; i++) local.data[i] += 1000 + i;
  const after = global.clone();
  scatterSlice(local, resolved, after);
  const covered = new Set(sliceCoverage(resolved, global));
  assert.equal(covered.size, local.data.length, 'no element is covered twice');
  let changed = 0;
  for (let i = 0; i < after.data.length; i++) {
    if (after.data[i] !== global.data[i]) {
      changed++;
      assert.ok(covered.has(i), `element ${i} changed but is not covered`);
    }
  }
  assert.equal(changed, covered.size);
  // And back again: extracting from the scattered model gives the local values.
  assert.deepEqual(extractSlice(after, resolved).data, local.data);
}

const shapesOf = (params: readonly { name: string; shape: readonly (number | string)[] }[]) => new Map(params.map((p) => [p.name, p.shape as number[]]));

const mlpCfg: MlpSupernetConfig = { inputs: 12, hidden: 8, depth: 3, classes: 4 };

test('MLP supernet slices (HeteroFL, FedRolex, elastic depth) round-trip and match the sub-model graph', () => {
  const specs = mlpSupernetSpecs(mlpCfg);
  const cases: [{ width: number; depth?: number }, WidthSelection][] = [
    [{ width: 0.5 }, { mode: 'heterofl' }],
    [{ width: 0.25, depth: 2 }, { mode: 'heterofl' }],
    [{ width: 0.5 }, { mode: 'fedrolex', round: 7 }],
    [{ width: 0.375, depth: 1 }, { mode: 'fedrolex', round: 3, variant: 'code' }],
    [{ width: 1 }, { mode: 'heterofl' }],
  ];
  for (const [sub, sel] of cases) {
    roundTrip(specs, mlpSubnetSlice(mlpCfg, sub, sel), shapesOf(mlpSupernetModel(mlpCfg, sub).graph.params));
  }
  assert.throws(() => mlpSubnetSlice(mlpCfg, { width: 0 }), { code: 'MODEL_SLICE' });
  assert.throws(() => mlpSubnetSlice(mlpCfg, { width: 0.5, depth: 4 }), { code: 'MODEL_SLICE' });
});

test('spec 6 HeteroFL slice semantics: outputs [0, ⌈out·r⌉), inputs follow, first layer all inputs, classifier all outputs', () => {
  const s = mlpSubnetSlice(MNIST_MLP_SUPERNET, { width: 0.25 });
  const by = new Map(s.tensors.map((t) => [t.name, t.axes]));
  assert.deepEqual(by.get('fc1.weight'), [{ kind: 'range', start: 0, end: 50 }, { kind: 'all' }]);
  assert.deepEqual(by.get('fc1.bias'), [{ kind: 'range', start: 0, end: 50 }]);
  assert.deepEqual(by.get('fc2.weight'), [{ kind: 'range', start: 0, end: 50 }, { kind: 'range', start: 0, end: 50 }]);
  assert.deepEqual(by.get('head.weight'), [{ kind: 'all' }, { kind: 'range', start: 0, end: 50 }]);
  assert.deepEqual(by.get('head.bias'), [{ kind: 'all' }]);
  assert.equal(unitsFor(200, 0.35), 70);
  assert.equal(unitsFor(10, 0.33), 4);
});

const tCfg: TransformerConfig = { vocab: 9, seqLen: 5, dModel: 8, heads: 4, headDim: 4, ffDim: 12, layers: 3 };

test('transformer supernet slices (head dims of each head, heads, FF width, depth) round-trip and match the sub-model graph', () => {
  const specs = transformerSpecs(tCfg);
  const subs = [{ width: 0.5 }, { width: 0.25, heads: 2, depth: 1 }, { depth: 2 }, { width: 0.75, heads: 3 }];
  for (const sub of subs) {
    for (const sel of [{ mode: 'heterofl' }, { mode: 'fedrolex', round: 2 }] as WidthSelection[]) {
      const sn = transformerSubnetwork(tCfg, sub, sel);
      roundTrip(specs, sn.slice, shapesOf(sn.build().graph.params));
    }
  }
  // Leading dims of EACH head: width ½ of 4 heads × 4 dims keeps dims {0, 1} of every head.
  const q = transformerSubnetwork(tCfg, { width: 0.5 }).slice.tensors.find((t) => t.name === 'blocks.0.attn.q.weight');
  assert.deepEqual(q?.axes[1], { kind: 'indices', indices: [0, 1, 4, 5, 8, 9, 12, 13] });
  const rolled = transformerSubnetwork(tCfg, { width: 0.5 }, { mode: 'fedrolex', round: 3 }).slice.tensors.find((t) => t.name === 'blocks.0.attn.q.weight');
  assert.deepEqual(rolled?.axes[1], { kind: 'indices', indices: [3, 0, 7, 4, 11, 8, 15, 12] });
});

test('MoE slices (trunk + experts, optionally narrowed) round-trip and match the sub-model graph', () => {
  const cfg: TransformerConfig = { ...tCfg, layers: 2, moe: { experts: 5, topK: 2, ffDim: 6 } };
  const specs = transformerSpecs(cfg);
  for (const sub of [{ experts: [1, 3] }, { experts: [0, 2, 4], width: 0.5 }, { experts: [4, 0] }]) {
    const sn = transformerSubnetwork(cfg, sub);
    roundTrip(specs, sn.slice, shapesOf(sn.build().graph.params));
  }
  const sn = transformerSubnetwork(cfg, { experts: [3, 1] });
  const fc1 = sn.slice.tensors.find((t) => t.name === 'blocks.1.moe.fc1.weight');
  assert.deepEqual(fc1?.axes[0], { kind: 'indices', indices: [1, 3] });
  const router = sn.slice.tensors.find((t) => t.name === 'blocks.1.moe.router.weight');
  assert.deepEqual(router?.axes, [{ kind: 'all' }, { kind: 'indices', indices: [1, 3] }]);
});

test('spec 6 FedRolex windows, K = 4, β = ½: paper {0,1},{1,2},{2,3},{3,0}; code {0,1},{3,0},{2,3},{1,2}; each channel twice in 4 rounds', () => {
  const windows = (variant: 'paper' | 'code') => [0, 1, 2, 3].map((round) => unitIndices(4, unitsFor(4, 0.5), { mode: 'fedrolex', round, variant }));
  assert.deepEqual(windows('paper'), [[0, 1], [1, 2], [2, 3], [3, 0]]);
  assert.deepEqual(windows('code'), [[0, 1], [3, 0], [2, 3], [1, 2]]);
  for (const v of ['paper', 'code'] as const) {
    const count = [0, 0, 0, 0];
    for (const w of windows(v)) for (const c of w) count[c]++;
    assert.deepEqual(count, [2, 2, 2, 2]);
  }
});

test('sandwich sampler: n configs, the first two max and min, the rest in range, seeded per step', () => {
  const o = { n: 4, min: 0.35, seed: 7 };
  const w = sandwichWidths(12, o);
  assert.equal(w.length, 4);
  assert.equal(w[0], 1);
  assert.equal(w[1], 0.35);
  for (const r of w.slice(2)) assert.ok(r >= 0.35 && r <= 1);
  assert.deepEqual(sandwichWidths(12, o), w);
  assert.notDeepEqual(sandwichWidths(13, o), w);
  assert.deepEqual(sandwichWidths(0, { n: 2, min: 0.25, max: 0.5, seed: 1 }), [0.5, 0.25]);
  assert.throws(() => sandwichWidths(0, { n: 1, min: 0.3, seed: 1 }), { code: 'MODEL_CONFIG' });
});
