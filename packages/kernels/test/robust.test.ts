import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  coordinateMedian, trimmedMean, DEFAULT_TRIM_BETA, pairwiseSquaredDistances, krumScores, krumSelect, weightedSum,
} from '../src/reduce/index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
function code(c: string) {
  return (e: unknown) => (e as { code?: string }).code === c;
}
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}
function shuffled<T>(xs: readonly T[], r: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
/** Per-coordinate sorted columns, in float64, as the reference for the robust reducers. */
function sortedColumn(xs: readonly Float32Array[], j: number): number[] {
  return xs.map((x) => x[j]).sort((a, b) => a - b);
}

const X = [[0, 0], [0.1, 0], [0, 0.1], [0.1, 0.1], [5, 5]].map((p) => Float32Array.from(p));

test('spec 9: Krum scores with f = 1 and the Krum / Multi-Krum choices', () => {
  const d = new Float64Array(25);
  pairwiseSquaredDistances(X, d);
  const scores = new Float64Array(5);
  krumScores(d, 5, 1, scores);
  close(scores, [0.02, 0.02, 0.02, 0.02, 97.03], 1e-6);
  const one = new Uint32Array(1);
  krumSelect(scores, one);
  assert.deepEqual([...one], [0]);
  assert.deepEqual([...X[one[0]]], [0, 0]);
  const three = new Uint32Array(3);
  krumSelect(scores, three);
  assert.deepEqual([...three], [0, 1, 2]);
  const out = new Float32Array(2);
  weightedSum([...three].map((i) => X[i]), [1 / 3, 1 / 3, 1 / 3], out);
  close(out, [0.0333, 0.0333], 1e-4);
});

test('spec 9: coordinate median and trimmed mean (β = 0.2)', () => {
  const med = new Float32Array(2);
  coordinateMedian(X, med);
  assert.deepEqual([...med], [Math.fround(0.1), Math.fround(0.1)]);
  const tm = new Float32Array(2);
  trimmedMean(X, DEFAULT_TRIM_BETA, tm);
  assert.equal(DEFAULT_TRIM_BETA, 0.2);
  close(tm, [0.0667, 0.0667], 1e-4);
});

test('median of an even count is the mean of the two middle values', () => {
  const xs = [[4, -1], [1, -2], [3, 7], [2, 8]].map((p) => Float32Array.from(p));
  const out = new Float32Array(2);
  coordinateMedian(xs, out);
  assert.deepEqual([...out], [2.5, 3]);
  const one = new Float32Array(2);
  coordinateMedian([Float32Array.from([9, -9])], one);
  assert.deepEqual([...one], [9, -9]);
});

test('property: median and trimmed mean match a sort reference for N = 1..70, with ties', () => {
  const len = 64;
  for (const count of [1, 2, 3, 4, 5, 7, 8, 9, 10, 16, 20, 31, 32, 33, 50, 70]) {
    const r = rng(count * 31);
    // Few distinct values so ties and duplicates are common.
    const xs = Array.from({ length: count }, () => Float32Array.from({ length: len }, () => Math.floor(r() * 7) - 3 + (r() < 0.3 ? 0.5 : 0)));
    const med = new Float32Array(len);
    coordinateMedian(xs, med);
    for (const beta of [0, 0.1, 0.2, 0.3, 0.45]) {
      const c = Math.floor(beta * count);
      if (2 * c >= count) continue;
      const tm = new Float32Array(len);
      trimmedMean(xs, beta, tm);
      for (let j = 0; j < len; j++) {
        const col = sortedColumn(xs, j).slice(c, count - c);
        const mean = col.reduce((a, b) => a + b, 0) / col.length;
        assert.ok(Math.abs(tm[j] - mean) <= 1e-6 * (1 + Math.abs(mean)), `N=${count} beta=${beta} [${j}]`);
      }
    }
    for (let j = 0; j < len; j++) {
      const col = sortedColumn(xs, j);
      const h = count >> 1;
      const m = count % 2 === 1 ? col[h] : (col[h - 1] + col[h]) / 2;
      assert.equal(med[j], Math.fround(m), `N=${count} [${j}]`);
    }
  }
});

test('property: median and trimmed mean are bit-identical for every order of the arrays', () => {
  const len = 257;
  for (const count of [5, 20, 40]) {
    const r = rng(count);
    const xs = Array.from({ length: count }, () => Float32Array.from({ length: len }, () => (r() * 2 - 1) * 10 ** Math.floor(r() * 8 - 4)));
    xs[0][0] = -0; // signed zeros must not make the result order-dependent
    xs[1][0] = 0;
    const med = new Float32Array(len);
    const tm = new Float32Array(len);
    coordinateMedian(xs, med);
    trimmedMean(xs, 0.2, tm);
    for (let t = 0; t < 4; t++) {
      const ys = shuffled(xs, r);
      const med2 = new Float32Array(len);
      const tm2 = new Float32Array(len);
      coordinateMedian(ys, med2);
      trimmedMean(ys, 0.2, tm2);
      assert.deepEqual(new Uint32Array(med2.buffer), new Uint32Array(med.buffer));
      assert.deepEqual(new Uint32Array(tm2.buffer), new Uint32Array(tm.buffer));
    }
  }
});

test('robust reducers allow out to be one of the inputs', () => {
  const r = rng(3);
  const xs = Array.from({ length: 6 }, () => Float32Array.from({ length: 100 }, () => r()));
  const ref = new Float32Array(100);
  coordinateMedian(xs, ref);
  const ys = xs.map((x) => x.slice());
  coordinateMedian(ys, ys[2]);
  assert.deepEqual(ys[2], ref);
  trimmedMean(xs, 0.2, ref);
  const zs = xs.map((x) => x.slice());
  trimmedMean(zs, 0.2, zs[0]);
  assert.deepEqual(zs[0], ref);
});

test('robust reducers reject bad arguments', () => {
  const a = new Float32Array(3);
  const out = new Float32Array(3);
  assert.throws(() => coordinateMedian([], out), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => coordinateMedian([a, new Float32Array(2)], out), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => coordinateMedian([a], new Float32Array(2)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => coordinateMedian([a, Float32Array.from([0, NaN, 0])], out), code('KERNEL_NON_FINITE'));
  assert.throws(() => trimmedMean([a, Float32Array.from([0, 0, NaN])], 0, out), /xs\[1\]\[2\] is NaN/);
  assert.throws(() => trimmedMean([], 0.2, out), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => trimmedMean([a, a], 0.5, out), code('KERNEL_BAD_ARGUMENT')); // c = 1, 2c = N
  trimmedMean([a, a, a, a, a], 0.4, out); // c = 2, 2c = 4 < 5: allowed
  assert.throws(() => trimmedMean([a, a, a, a, a], 0.6, out), code('KERNEL_BAD_ARGUMENT')); // c = 3
  assert.throws(() => trimmedMean([a, a, a], -0.1, out), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => trimmedMean([a, a, a], NaN, out), code('KERNEL_NON_FINITE'));
  assert.throws(() => trimmedMean([a, a], 0.2, new Float32Array(4)), code('KERNEL_LENGTH_MISMATCH'));
});

test('pairwiseSquaredDistances matches a direct float64 computation across blocks', () => {
  const r = rng(11);
  const len = 2048 * 3 + 5;
  const count = 6;
  const xs = Array.from({ length: count }, () => Float32Array.from({ length: len }, () => r() * 2 - 1));
  const d = new Float64Array(count * count).fill(123);
  pairwiseSquaredDistances(xs, d);
  for (let i = 0; i < count; i++) {
    assert.equal(d[i * count + i], 0);
    for (let j = 0; j < count; j++) {
      let s = 0;
      for (let k = 0; k < len; k++) s += (xs[i][k] - xs[j][k]) ** 2;
      assert.ok(Math.abs(d[i * count + j] - s) <= 1e-9 * s, `(${i},${j})`);
      assert.equal(d[i * count + j], d[j * count + i]);
    }
  }
});

test('krumScores keeps at least one neighbour and sums the smallest; large n uses the typed sort', () => {
  // n = 3, f = 1: max(1, 0) = 1 nearest neighbour.
  const d = Float64Array.from([0, 1, 4, 1, 0, 9, 4, 9, 0]);
  const s = new Float64Array(3);
  krumScores(d, 3, 1, s);
  assert.deepEqual([...s], [1, 1, 4]);
  krumScores(d, 3, 0, s); // max(1, 1) = 1
  assert.deepEqual([...s], [1, 1, 4]);
  // n = 40 points on a line: d_ij = (i-j)², f = 5 → sum of the 33 smallest.
  const n = 40;
  const dd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) dd[i * n + j] = (i - j) ** 2;
  const out = new Float64Array(n);
  krumScores(dd, n, 5, out);
  for (let i = 0; i < n; i++) {
    const row = [];
    for (let j = 0; j < n; j++) if (j !== i) row.push((i - j) ** 2);
    row.sort((a, b) => a - b);
    assert.equal(out[i], row.slice(0, 33).reduce((a, b) => a + b, 0));
  }
});

test('krum kernels reject bad arguments', () => {
  const d = new Float64Array(9);
  const s = new Float64Array(3);
  assert.throws(() => pairwiseSquaredDistances([], new Float64Array(0)), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => pairwiseSquaredDistances([new Float32Array(2), new Float32Array(3)], new Float64Array(4)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => pairwiseSquaredDistances([new Float32Array(2)], new Float64Array(2)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => krumScores(d, 1, 0, new Float64Array(1)), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => krumScores(d, 3, -1, s), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => krumScores(d, 3, 4, s), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => krumScores(d, 3, 1.5, s), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => krumScores(new Float64Array(8), 3, 0, s), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => krumScores(d, 3, 0, new Float64Array(2)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => krumScores(Float64Array.from([0, NaN, 1, 0]), 2, 0, new Float64Array(2)), code('KERNEL_NON_FINITE'));
  assert.throws(() => krumSelect(s, new Uint32Array(0)), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => krumSelect(s, new Uint32Array(4)), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => krumSelect(Float64Array.from([1, NaN]), new Uint32Array(1)), code('KERNEL_NON_FINITE'));
});

test('signed zeros: the median is +0 whichever array holds −0 (also once optimised)', () => {
  const len = 200_000; // long enough for the optimising compiler to take over the loop
  const a = new Float32Array(len).fill(-0);
  const b = new Float32Array(len);
  const c = new Float32Array(len).fill(1);
  for (const xs of [[a, b, c], [b, a, c], [c, a, b]]) {
    const out = new Float32Array(len).fill(7);
    coordinateMedian(xs, out);
    for (let j = 0; j < len; j++) if (!Object.is(out[j], 0)) assert.fail(`[${j}] is ${Object.is(out[j], -0) ? '-0' : out[j]}`);
    trimmedMean([a, a], 0, out);
    for (let j = 0; j < len; j++) if (!Object.is(out[j], 0)) assert.fail(`trimmed [${j}] is ${out[j]}`);
  }
});
