import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import {
  MergeError,
  dare,
  dareSparsify,
  dareSparsifyWithMask,
  mergeAverage,
  slerp,
  slerpVectors,
  taskArithmetic,
  ties,
  tiesMergeDeltas,
  trimCount,
} from '../src/merge/index.js';

// Spec section 8's task vectors, one per row.
const TAU = [
  [0.5, -1, 0.2, 0, 0.3],
  [-0.4, 0.8, 0.3, 0.1, -0.05],
  [0.6, 0.1, -0.9, 0.05, 0.2],
];

function vec(values: readonly number[], name = 'w'): ParamSet {
  return ParamSet.fromTensors([{ name, shape: [values.length], data: values }]);
}

function close(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function isMergeError(code: string, text?: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof MergeError, `expected a MergeError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (text !== undefined) assert.match(e.message, text);
    return true;
  };
}

/** A model of two tensors with seeded values in [-1, 1). */
function randomModel(seed: number, sizes: readonly [number, number] = [12, 7]): ParamSet {
  const rng = new Rng(seed);
  const p = ParamSet.zeros([
    { name: 'a', shape: [sizes[0]] },
    { name: 'b', shape: [sizes[1]] },
  ]);
  rng.fillUniform(p.data, -1, 1);
  return p;
}

describe('merge: spec section 8 vectors', () => {
  it('TIES keeping 40% elects [+, -, -, 0, 0] and gives [0.55, -1, -0.9, 0, 0]', () => {
    const { merged, elected } = tiesMergeDeltas(TAU.map((t) => Float32Array.from(t)), { density: 0.4 });
    assert.deepEqual([...elected], [1, -1, -1, 0, 0]);
    close(merged, [0.55, -1, -0.9, 0, 0]);
    // The same through whole models (base 0, θᵢ = τᵢ), in both ranking scopes: with one
    // tensor per model they coincide.
    for (const scope of ['tensor', 'model'] as const) {
      const out = ties(vec([0, 0, 0, 0, 0]), TAU.map((t) => vec(t)), { density: 0.4, scope });
      close(out.data, [0.55, -1, -0.9, 0, 0]);
    }
  });

  it('task arithmetic with lambda 0.5 gives [0.35, -0.05, -0.2, 0.075, 0.225]', () => {
    const out = taskArithmetic(vec([0, 0, 0, 0, 0]), TAU.map((t) => vec(t)), { lambda: 0.5 });
    close(out.data, [0.35, -0.05, -0.2, 0.075, 0.225]);
  });

  it('DARE with p = 1/2 and keep mask [1,0,1,0] on [.2, .4, -.6, .8] gives [.4, 0, -1.2, 0]', () => {
    const out = dareSparsifyWithMask(Float32Array.of(0.2, 0.4, -0.6, 0.8), [1, 0, 1, 0], 0.5, new Float32Array(4));
    assert.deepEqual([...out], [...Float32Array.of(0.4, 0, -1.2, 0)]);
  });

  it('SLERP at t = 0.5', () => {
    close(slerpVectors(Float32Array.of(1, 0), Float32Array.of(0, 1), 0.5), [Math.SQRT1_2, Math.SQRT1_2]);
    close(slerpVectors(Float32Array.of(2, 0), Float32Array.of(0, 1), 0.5), [Math.SQRT2, Math.SQRT1_2]);
    close(slerp(vec([2, 0]), vec([0, 1]), 0.5).data, [1.4142135, 0.7071068]);
  });
});

describe('merge: average', () => {
  it('is the weighted mean', () => {
    const out = mergeAverage([vec([1, 2]), vec([3, -2])], [1, 3]);
    close(out.data, [2.5, -1]);
    close(mergeAverage([vec([1, 2]), vec([3, -2])]).data, [2, 0]);
  });

  it('of identical models is the model, bit for bit', () => {
    const m = randomModel(3);
    for (const weights of [undefined, [0.1, 0.2, 0.7], [1, 1, 1, 1, 1, 1, 1], [3, 0.3, 1e-3, 7, 2, 5, 11]]) {
      const count = weights === undefined ? 4 : weights.length;
      const out = mergeAverage(Array.from({ length: count }, () => m.clone()), weights);
      assert.deepEqual(out.data, m.data);
      assert.deepEqual(out.specs, m.specs);
    }
  });

  it('rejects bad weights, naming them', () => {
    const ms = [vec([1]), vec([2])];
    assert.throws(() => mergeAverage(ms, [1, NaN]), isMergeError('MERGE_ARGUMENT', /weight 1 is NaN, expected a finite/));
    assert.throws(() => mergeAverage(ms, [1, -1]), isMergeError('MERGE_ARGUMENT', />= 0/));
    assert.throws(() => mergeAverage(ms, [0, 0]), isMergeError('MERGE_ARGUMENT', /sum to 0/));
    assert.throws(() => mergeAverage(ms, [1]), isMergeError('MERGE_ARGUMENT', /one per model/));
    assert.throws(() => mergeAverage([]), isMergeError('MERGE_ARGUMENT', /at least one model/));
  });
});

describe('merge: task arithmetic', () => {
  it('adds λ·Σ wᵢ(θᵢ − θ₀) to the base', () => {
    const out = taskArithmetic(vec([1, 1]), [vec([2, 0]), vec([1, 3])], { lambda: 2, weights: [1, -0.5] });
    close(out.data, [1 + 2 * (1 - 0), 1 + 2 * (-1 - 1)]);
  });

  it('with one model and λ = 1 returns the model', () => {
    const base = randomModel(1);
    const m = randomModel(2);
    assert.deepEqual(taskArithmetic(base, [m]).data, m.data);
  });
});

describe('merge: TIES', () => {
  it('with density 1 and one model equals task arithmetic, bit for bit', () => {
    const base = randomModel(10, [300, 77]);
    const m = randomModel(11, [300, 77]);
    for (const lambda of [1, 0.37, 2.5]) {
      for (const scope of ['tensor', 'model'] as const) {
        assert.deepEqual(ties(base, [m], { density: 1, lambda, scope }).data, taskArithmetic(base, [m], { lambda }).data);
      }
    }
  });

  it('trims to exactly ⌊K·d⌋ per tensor, ties going to the lower index', () => {
    // One model: the merged delta is the trimmed delta itself.
    const tau = [3, -1, 1, -1, 1, 2, -3, 0];
    const cases: [number, number[]][] = [
      [0.25, [3, 0, 0, 0, 0, 0, -3, 0]],
      [0.5, [3, -1, 0, 0, 0, 2, -3, 0]],
      [0.75, [3, -1, 1, -1, 0, 2, -3, 0]],
      [0, [0, 0, 0, 0, 0, 0, 0, 0]],
    ];
    for (const [density, expected] of cases) {
      assert.deepEqual([...tiesMergeDeltas([Float32Array.from(tau)], { density }).merged], expected, `density ${density}`);
    }
  });

  it('matches a sort-based reference on random data (many ties, both scopes)', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 30; trial++) {
      const n1 = 1 + rng.uniformInt(400);
      const n2 = 1 + rng.uniformInt(70000);
      const count = 1 + rng.uniformInt(5);
      const specs = [
        { name: 'x', shape: [n1] },
        { name: 'y', shape: [n2] },
      ];
      const base = ParamSet.zeros(specs);
      rng.fillUniform(base.data, -1, 1);
      const models = Array.from({ length: count }, () => {
        const m = base.clone();
        // Quantised deltas: magnitudes repeat, so the tie rule matters.
        const levels = trial % 2 === 0 ? 7 : 100000;
        for (let j = 0; j < m.size; j++) {
          const u = rng.uniform();
          if (u < 0.1) continue; // some exact zeros
          m.data[j] = base.data[j] + (rng.uniformInt(2 * levels + 1) - levels) / levels;
        }
        return m;
      });
      const density = [0.2, 0.05, 0.5, 1, 0.013][trial % 5];
      const lambda = 1 + trial / 10;
      const scope = trial % 3 === 0 ? 'model' : 'tensor';
      const got = ties(base, models, { density, lambda, scope });
      const ref = tiesReference(base, models, density, lambda, scope);
      assert.deepEqual(got.data, ref, `trial ${trial}`);
    }
  });

  it('uses the majority sign where kept deltas cancel exactly', () => {
    // Entry 2 cancels (+0.5, −0.5); the other elected signs are −, −, + → majority −.
    const deltas = [Float32Array.of(-1, -1, 0.5, 1), Float32Array.of(-1, -1, -0.5, 1)].map((d) => d);
    const { merged, elected } = tiesMergeDeltas(deltas, { density: 1 });
    assert.deepEqual([...elected], [-1, -1, 0, 1]);
    assert.deepEqual([...merged], [-1, -1, -0.5, 1]);
    const { merged: plus } = tiesMergeDeltas([Float32Array.of(1, 1, 0.5, -1), Float32Array.of(1, 1, -0.5, -1)], {
      density: 1,
    });
    assert.deepEqual([...plus], [1, 1, 0.5, -1]);
  });

  it('rejects non-finite task vectors and bad options', () => {
    const base = vec([0, 0, 0]);
    assert.throws(() => ties(base, [vec([0, NaN, 1])]), isMergeError('MERGE_NON_FINITE', /model 0 .*element 1 of tensor "w"/));
    assert.throws(() => ties(base, [vec([1, 2, 3])], { density: 1.5 }), isMergeError('MERGE_ARGUMENT', /density/));
    assert.throws(() => ties(base, [vec([1, 2, 3])], { lambda: Infinity }), isMergeError('MERGE_ARGUMENT', /lambda/));
  });

  it('trimCount floors, forgiving decimal densities', () => {
    assert.equal(trimCount(0.4, 5), 2);
    assert.equal(trimCount(0.29, 100), 29);
    assert.equal(trimCount(0.2, 7), 1);
    assert.equal(trimCount(1, 7), 7);
  });
});

describe('merge: DARE', () => {
  it('drops about p of the entries, rescales the rest by 1/(1-p), deterministically', () => {
    const n = 100000;
    const delta = new Float32Array(n).fill(0.5);
    const a = dareSparsify(delta, 0.9, new Rng(7), new Float32Array(n));
    const b = dareSparsify(delta, 0.9, new Rng(7), new Float32Array(n));
    assert.deepEqual(a, b);
    let kept = 0;
    for (const x of a) {
      if (x !== 0) {
        kept++;
        assert.equal(x, Math.fround(0.5 / (1 - 0.9)));
      }
    }
    assert.ok(Math.abs(kept / n - 0.1) < 0.005, `kept ${kept}`);
  });

  it('l1 rescale preserves the L1 norm', () => {
    const delta = Float32Array.of(0.2, 0.4, -0.6, 0.8);
    const out = dareSparsifyWithMask(delta, [1, 0, 1, 0], 0.5, new Float32Array(4), 'l1');
    close(out, [0.5, 0, -1.5, 0]);
  });

  it('with p = 0 is task arithmetic', () => {
    const base = randomModel(1);
    const ms = [randomModel(2), randomModel(3)];
    const got = dare(base, ms, { p: 0, seed: 1, lambda: 0.5 });
    close(got.data, [...taskArithmetic(base, ms, { lambda: 0.5 }).data], 1e-6);
  });

  it('whole models: same seed, same bits; mask per model from Rng.derive(seed, i)', () => {
    const base = randomModel(1, [500, 300]);
    const ms = [randomModel(2, [500, 300]), randomModel(3, [500, 300])];
    const a = dare(base, ms, { p: 0.5, seed: 42, weights: [0.5, 0.5] });
    assert.deepEqual(a.data, dare(base, ms, { p: 0.5, seed: 42, weights: [0.5, 0.5] }).data);
    assert.notDeepEqual(a.data, dare(base, ms, { p: 0.5, seed: 43, weights: [0.5, 0.5] }).data);
    // Reference: sparsify each delta with its derived generator, then task arithmetic.
    const expected = new Float64Array(base.size);
    ms.forEach((m, i) => {
      const d = new Float32Array(base.size);
      for (let j = 0; j < d.length; j++) d[j] = m.data[j] - base.data[j];
      const rng = Rng.derive(42, i);
      dareSparsify(d, 0.5, rng, d);
      for (let j = 0; j < d.length; j++) expected[j] += 0.5 * d[j];
    });
    assert.deepEqual(a.data, Float32Array.from(expected, (x, j) => base.data[j] + x));
  });

  it('rejects p outside [0, 1)', () => {
    assert.throws(() => dare(vec([0]), [vec([1])], { p: 1, seed: 0 }), isMergeError('MERGE_ARGUMENT', /p: is 1/));
    assert.throws(() => dareSparsifyWithMask(Float32Array.of(1), [1, 1], 0.5, new Float32Array(1)), isMergeError('MERGE_ARGUMENT', /keep/));
  });
});

describe('merge: SLERP', () => {
  it('t = 0 and t = 1 give the endpoints; near-parallel tensors fall back to lerp', () => {
    const a = randomModel(1);
    const b = randomModel(2);
    close(slerp(a, b, 0).data, [...a.data], 1e-6);
    close(slerp(a, b, 1).data, [...b.data], 1e-6);
    const par = slerpVectors(Float32Array.of(1, 0), Float32Array.of(2, 0.001), 0.5);
    close(par, [1.5, 0.0005]);
    const zero = slerpVectors(Float32Array.of(0, 0), Float32Array.of(2, 4), 0.25);
    close(zero, [0.5, 1]);
  });

  it('keeps the norm of unit vectors along the arc', () => {
    const out = slerpVectors(Float32Array.of(1, 0, 0), Float32Array.of(0, 0, 1), 0.3);
    close(out, [Math.cos(0.3 * Math.PI / 2), 0, Math.sin(0.3 * Math.PI / 2)]);
  });
});

describe('merge: layouts', () => {
  const a = vec([1, 2, 3]);
  const shape = ParamSet.fromTensors([{ name: 'w', shape: [3, 1], data: [1, 2, 3] }]);
  const named = vec([1, 2, 3], 'v');
  const more = ParamSet.fromTensors([
    { name: 'w', shape: [3], data: [1, 2, 3] },
    { name: 'z', shape: [1], data: [0] },
  ]);
  const merges: [string, (x: ParamSet, y: ParamSet) => unknown][] = [
    ['average', (x, y) => mergeAverage([x, y])],
    ['task arithmetic', (x, y) => taskArithmetic(x, [y])],
    ['task arithmetic (models)', (x, y) => taskArithmetic(x, [x, y])],
    ['ties', (x, y) => ties(x, [y])],
    ['ties (models)', (x, y) => ties(x, [x, y])],
    ['dare', (x, y) => dare(x, [y], { p: 0.5, seed: 1 })],
    ['slerp', (x, y) => slerp(x, y, 0.5)],
  ];
  for (const [label, merge] of merges) {
    it(`${label} rejects mismatched layouts`, () => {
      assert.throws(() => merge(a, shape), isMergeError('MERGE_LAYOUT', /"w" has shape \[3, 1\], expected \[3\]/));
      assert.throws(() => merge(a, named), isMergeError('MERGE_LAYOUT', /tensor 0 is "v", expected "w"/));
      assert.throws(() => merge(a, more), isMergeError('MERGE_LAYOUT', /2 tensors, expected 1/));
    });
  }
});

/** TIES by full sorts, straight from the spec, for comparison. */
function tiesReference(
  base: ParamSet,
  models: readonly ParamSet[],
  density: number,
  lambda: number,
  scope: 'tensor' | 'model',
): Float32Array {
  const segments: [number, number][] =
    scope === 'model'
      ? [[0, base.size]]
      : base.specs.map((s) => [base.offsetOf(s.name), base.offsetOf(s.name) + base.tensor(s.name).length]);
  const out = new Float32Array(base.size);
  for (const [s, e] of segments) {
    const n = e - s;
    const k = trimCount(density, n);
    const kept = models.map((m) => {
      const d = Array.from({ length: n }, (_, j) => m.data[s + j] - base.data[s + j]);
      const order = d.map((_, j) => j).sort((x, y) => Math.abs(Math.fround(d[y])) - Math.abs(Math.fround(d[x])) || x - y);
      const t = new Float64Array(n);
      for (let r = 0; r < k; r++) t[order[r]] = d[order[r]];
      return t;
    });
    const gamma = new Float64Array(n);
    let majority = 0;
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let ps = 0;
      let ns = 0;
      for (const t of kept) (t[j] > 0 ? (ps += t[j]) : (ns += t[j]));
      sum = ps + ns;
      gamma[j] = Math.sign(sum);
      majority += gamma[j];
    }
    for (let j = 0; j < n; j++) {
      const g = gamma[j] !== 0 ? gamma[j] : Math.sign(majority);
      let sum = 0;
      let c = 0;
      for (const t of kept) {
        if (t[j] !== 0 && Math.sign(t[j]) === g) {
          sum += t[j];
          c++;
        }
      }
      out[s + j] = base.data[s + j] + lambda * (c > 0 ? sum / c : 0);
    }
  }
  return out;
}
