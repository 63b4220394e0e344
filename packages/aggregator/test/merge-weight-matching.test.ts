import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import {
  MergeError,
  mergeWithWeightMatching,
  mlpLayers,
  permuteMlp,
  weightMatching,
} from '../src/merge/index.js';

/** A random MLP with PyTorch-layout fcN.weight [out, in] and fcN.bias [out]. */
function randomMlp(sizes: readonly number[], seed: number): ParamSet {
  const rng = new Rng(seed);
  const tensors = [];
  for (let l = 1; l < sizes.length; l++) {
    const w = new Float32Array(sizes[l] * sizes[l - 1]);
    const b = new Float32Array(sizes[l]);
    rng.fillUniform(w, -1, 1);
    rng.fillUniform(b, -1, 1);
    tensors.push({ name: `fc${l}.weight`, shape: [sizes[l], sizes[l - 1]], data: w });
    tensors.push({ name: `fc${l}.bias`, shape: [sizes[l]], data: b });
  }
  return ParamSet.fromTensors(tensors);
}

function randomPerms(sizes: readonly number[], seed: number): Int32Array[] {
  const rng = new Rng(seed);
  return sizes.slice(1, -1).map((n) => rng.shuffle(Int32Array.from({ length: n }, (_, i) => i)));
}

/** Runs the MLP (ReLU between layers) on one input. */
function forward(model: ParamSet, sizes: readonly number[], x: Float32Array): Float64Array {
  let h = Float64Array.from(x);
  for (let l = 1; l < sizes.length; l++) {
    const w = model.tensor(`fc${l}.weight`);
    const b = model.tensor(`fc${l}.bias`);
    const y = new Float64Array(sizes[l]);
    for (let r = 0; r < sizes[l]; r++) {
      let s = b[r];
      for (let c = 0; c < sizes[l - 1]; c++) s += w[r * sizes[l - 1] + c] * h[c];
      y[r] = l < sizes.length - 1 ? Math.max(0, s) : s;
    }
    h = y;
  }
  return h;
}

describe('merge: weight matching', () => {
  it('permuting hidden units leaves the function unchanged', () => {
    const sizes = [6, 5, 4, 3];
    const a = randomMlp(sizes, 1);
    const b = permuteMlp(a, mlpLayers(3), randomPerms(sizes, 2));
    assert.notDeepEqual(b.data, a.data);
    const x = new Rng(3).fillUniform(new Float32Array(6), -1, 1);
    const ya = forward(a, sizes, x);
    const yb = forward(b, sizes, x);
    for (let i = 0; i < ya.length; i++) assert.ok(Math.abs(ya[i] - yb[i]) < 1e-9);
  });

  it('recovers an exactly permuted single-hidden-layer model in one sweep', () => {
    const sizes = [20, 16, 5];
    const a = randomMlp(sizes, 4);
    const b = permuteMlp(a, mlpLayers(2), randomPerms(sizes, 5));
    const one = weightMatching(a, b, mlpLayers(2), { maxSweeps: 1 });
    assert.deepEqual(one.permuted.data, a.data);
    const full = weightMatching(a, b, mlpLayers(2));
    // The first sweep finds it, the second confirms nothing improves.
    assert.equal(full.sweeps, 2);
    assert.ok(full.converged);
    assert.deepEqual(full.permuted.data, a.data);
  });

  it('recovers an exact permutation of a 784-64-32-10 MLP, bit for bit', () => {
    const sizes = [784, 64, 32, 10];
    const layers = mlpLayers(3);
    const a = randomMlp(sizes, 6);
    const truth = randomPerms(sizes, 7);
    const b = permuteMlp(a, layers, truth);
    const r = weightMatching(a, b, layers, { seed: 9 });
    assert.ok(r.converged);
    assert.ok(r.sweeps <= 100);
    assert.deepEqual(r.permuted.data, a.data);
    assert.deepEqual(permuteMlp(b, layers, r.permutations).data, a.data);
    // π(B) = A, so merging with the alignment returns A.
    assert.deepEqual(mergeWithWeightMatching(a, b, layers).data, a.data);
  });

  it('is deterministic and moves B closer to A on unrelated models', () => {
    const sizes = [30, 24, 12, 4];
    const layers = mlpLayers(3);
    const a = randomMlp(sizes, 10);
    const b = randomMlp(sizes, 11);
    const r1 = weightMatching(a, b, layers, { seed: 3 });
    const r2 = weightMatching(a, b, layers, { seed: 3 });
    assert.deepEqual(r1.permutations, r2.permutations);
    const inner = (x: ParamSet, y: ParamSet): number => x.data.reduce((s, v, j) => s + v * y.data[j], 0);
    assert.ok(inner(a, r1.permuted) > inner(a, b));
    // The aligned merge is the plain mean of A and π(B).
    const merged = mergeWithWeightMatching(a, b, layers, { seed: 3 });
    for (let j = 0; j < merged.size; j += 17) assert.equal(merged.data[j], Math.fround((a.data[j] + r1.permuted.data[j]) / 2));
  });

  it('works without biases and leaves tensors outside the layers alone', () => {
    const rng = new Rng(12);
    const mk = (): ParamSet => {
      const p = ParamSet.zeros([
        { name: 'l1', shape: [8, 3] },
        { name: 'l2', shape: [2, 8] },
        { name: 'extra', shape: [4] },
      ]);
      rng.fillUniform(p.data, -1, 1);
      return p;
    };
    const a = mk();
    const layers = [{ weight: 'l1' }, { weight: 'l2' }];
    const b = permuteMlp(a, layers, [Int32Array.of(7, 6, 5, 4, 3, 2, 1, 0)]);
    assert.deepEqual(b.tensor('extra'), a.tensor('extra'));
    assert.deepEqual(weightMatching(a, b, layers).permuted.data, a.data);
  });

  it('rejects bad layers and layouts', () => {
    const a = randomMlp([4, 3, 2], 1);
    const code = (c: string, text: RegExp) => (e: unknown): boolean =>
      e instanceof MergeError && e.code === c && text.test(e.message);
    assert.throws(() => weightMatching(a, randomMlp([4, 5, 2], 1), mlpLayers(2)), code('MERGE_LAYOUT', /layouts differ/));
    assert.throws(() => weightMatching(a, a, mlpLayers(3)), code('MERGE_LAYOUT', /no tensor named "fc3.weight"/));
    assert.throws(
      () => weightMatching(a, a, [{ weight: 'fc2.weight' }, { weight: 'fc1.weight' }]),
      code('MERGE_ARGUMENT', /"fc1.weight" takes 4 inputs, but the previous layer has 2 outputs/),
    );
    assert.throws(() => weightMatching(a, a, [{ weight: 'fc1.weight', bias: 'fc2.bias' }, { weight: 'fc2.weight' }]), code('MERGE_ARGUMENT', /expected \[3\]/));
    assert.throws(() => permuteMlp(a, mlpLayers(2), [Int32Array.of(0, 0, 1)]), code('MERGE_ARGUMENT', /not a permutation/));
    assert.throws(() => weightMatching(a, a, mlpLayers(2), { maxSweeps: 0 }), code('MERGE_ARGUMENT', /maxSweeps/));
  });
});
