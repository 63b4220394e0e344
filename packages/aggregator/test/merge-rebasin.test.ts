import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet, models, type TensorSpec } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import {
  MergeError,
  assembleExperts,
  cnnSpec,
  gatherAxes,
  mlpLayers,
  mlpSpec,
  permuteBySpec,
  transformerSpec,
  weightMatching,
  weightMatchingBySpec,
  type PermutationSpec,
} from '../src/merge/index.js';

/**
 * Weight matching through permutation specs (the CNN's channels, the transformer's heads,
 * feed-forward units and residual stream) and Branch-Train-MiX expert assembly. A model
 * permuted by random permutations is the same function; weight matching must find the
 * permutations back exactly, whatever the layout.
 */

function randomModel(specs: readonly TensorSpec[], seed: number): ParamSet {
  const p = ParamSet.zeros(specs);
  new Rng(seed).fillNormal(p.data, 0, 1);
  return p;
}

function randomPerms(spec: PermutationSpec, seed: number): Int32Array[] {
  const rng = new Rng(seed);
  return spec.groups.map((g) => rng.shuffle(Int32Array.from({ length: g.size }, (_, i) => i)));
}

/** A small CNN with the engine's layout: conv1 [4,1,5,5], conv2 [6,4,5,5], fc1 [8, 6·49], fc2 [10, 8]. */
const CNN: TensorSpec[] = [
  { name: 'conv1.weight', shape: [4, 1, 5, 5] },
  { name: 'conv1.bias', shape: [4] },
  { name: 'conv2.weight', shape: [6, 4, 5, 5] },
  { name: 'conv2.bias', shape: [6] },
  { name: 'fc1.weight', shape: [8, 6 * 49] },
  { name: 'fc1.bias', shape: [8] },
  { name: 'fc2.weight', shape: [10, 8] },
  { name: 'fc2.bias', shape: [10] },
];

const LM = { vocab: 11, seqLen: 5, dModel: 8, heads: 2, headDim: 3, ffDim: 12, layers: 2 };
const LM_SPECS = models.transformerSpecs(LM);

describe('gatherAxes', () => {
  it('permutes the axes of a view: out[i, j, k] = src[p0[i], j, p2[k]]', () => {
    const src = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const p0 = Int32Array.of(1, 0);
    const p2 = Int32Array.of(3, 1, 0, 2);
    const out = gatherAxes(src, [2, 3, 4], [p0, null, p2]);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) assert.equal(out[(i * 3 + j) * 4 + k], src[(p0[i] * 3 + j) * 4 + p2[k]]);
  });
});

describe('weightMatchingBySpec', () => {
  for (const [name, specs, spec] of [
    ['CNN channels and units', CNN, cnnSpec(CNN)],
    ['transformer residual, heads and feed-forward units', LM_SPECS, transformerSpec(LM_SPECS, LM)],
  ] as const) {
    it(`recovers a random permutation of the ${name} bit for bit`, () => {
      const a = randomModel(specs, 1);
      const perms = randomPerms(spec, 2);
      const b = permuteBySpec(a, spec, perms);
      assert.notDeepEqual(b.data, a.data);
      const r = weightMatchingBySpec(a, b, spec, { seed: 3 });
      assert.ok(r.converged);
      assert.deepEqual(r.permuted.data, a.data);
    });
  }

  it('finds the same permutations as the MLP weight matching on an MLP', () => {
    const specs = [
      { name: 'fc1.weight', shape: [7, 5] },
      { name: 'fc1.bias', shape: [7] },
      { name: 'fc2.weight', shape: [6, 7] },
      { name: 'fc2.bias', shape: [6] },
      { name: 'fc3.weight', shape: [3, 6] },
      { name: 'fc3.bias', shape: [3] },
    ];
    const layers = mlpLayers(3);
    const spec = mlpSpec(layers, specs);
    const a = randomModel(specs, 4);
    const b = permuteBySpec(a, spec, randomPerms(spec, 5));
    const bySpec = weightMatchingBySpec(a, b, spec, { seed: 0 });
    const mlp = weightMatching(a, b, layers, { seed: 0 });
    assert.deepEqual(bySpec.permutations, mlp.permutations);
    assert.deepEqual(bySpec.permuted.data, a.data);
  });

  it('refuses a spec that does not fit the model, naming what is wrong', () => {
    const a = randomModel(CNN, 1);
    const bad = (spec: PermutationSpec, pattern: RegExp): void =>
      assert.throws(() => permuteBySpec(a, spec, randomPerms(spec, 1)), (e: unknown) => e instanceof MergeError && pattern.test(e.message));
    bad({ groups: [{ name: 'g', size: 4, axes: [{ tensor: 'conv9.weight', axis: 0 }] }] }, /no tensor named "conv9.weight"/);
    bad({ groups: [{ name: 'g', size: 5, axes: [{ tensor: 'conv1.weight', axis: 0 }] }] }, /has 4 entries, group "g" has 5 units/);
    bad({ groups: [{ name: 'g', size: 4, axes: [{ tensor: 'conv1.bias', axis: 0 }] }, { name: 'h', size: 4, axes: [{ tensor: 'conv1.bias', axis: 0 }] }] }, /claimed by two groups/);
    bad({ views: { 'fc1.weight': [8, 6, 50] }, groups: [{ name: 'g', size: 6, axes: [{ tensor: 'fc1.weight', axis: 1 }] }] }, /does not hold its shape/);
  });
});

describe('assembleExperts', () => {
  const dense = { ...LM };
  const moe = { ...LM, moe: { experts: 3, topK: 2 as const, ffDim: LM.ffDim } };
  const specialists = [11, 12, 13].map((s) => randomModel(models.transformerSpecs(dense), s));

  it('puts specialist e\'s feed-forward at expert e and averages the shared layers', () => {
    const out = assembleExperts(specialists, models.transformerSpecs(moe), { seed: 1 });
    const f1 = out.tensor('blocks.1.moe.fc1.weight');
    const per = f1.length / 3;
    specialists.forEach((s, e) => assert.deepEqual(f1.subarray(e * per, (e + 1) * per), s.tensor('blocks.1.ff.fc1.weight')));
    assert.deepEqual(out.tensor('blocks.0.moe.fc2.bias').subarray(LM.dModel, 2 * LM.dModel), specialists[1].tensor('blocks.0.ff.fc2.bias'));
    const q = out.tensor('blocks.0.attn.q.weight');
    q.forEach((x, i) => assert.ok(Math.abs(x - (specialists[0].tensor('blocks.0.attn.q.weight')[i] + specialists[1].tensor('blocks.0.attn.q.weight')[i] + specialists[2].tensor('blocks.0.attn.q.weight')[i]) / 3) < 1e-6));
    assert.ok(out.tensor('blocks.0.moe.router.weight').some((x) => x !== 0), 'the router starts from a seeded init');
  });

  it('refuses a count of specialists that is not the count of experts, and non-transformer inputs', () => {
    assert.throws(() => assembleExperts(specialists.slice(0, 2), models.transformerSpecs(moe)), /3 experts, but 2 specialists/);
    assert.throws(() => assembleExperts([randomModel(CNN, 1), randomModel(CNN, 2), randomModel(CNN, 3)], models.transformerSpecs(moe)), /no tensor "tok.embedding"|no tensor/);
  });
});
