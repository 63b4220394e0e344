import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  axpy, scaleInto, dot, l2NormSquared, l2Norm, weightedSum, clipByGlobalNorm,
} from '../src/reduce/index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
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

test('axpy and scaleInto', () => {
  const y = Float32Array.from([1, 2, 3]);
  axpy(2, Float32Array.from([1, -1, 0.5]), y);
  assert.deepEqual([...y], [3, 0, 4]);
  const out = new Float32Array(3);
  scaleInto(y, -0.5, out);
  assert.deepEqual([...out], [-1.5, -0, -2]);
  scaleInto(y, 2, y); // in place
  assert.deepEqual([...y], [6, 0, 8]);
});

test('dot and norms, including lengths that are not a multiple of the unroll', () => {
  for (const n of [0, 1, 3, 4, 5, 7, 1001]) {
    const x = randomArray(n, n + 1);
    const y = randomArray(n, n + 2);
    let d = 0;
    let q = 0;
    for (let i = 0; i < n; i++) {
      d += x[i] * y[i];
      q += x[i] * x[i];
    }
    assert.ok(Math.abs(dot(x, y) - d) <= 1e-12 * Math.max(1, n), `dot n=${n}`);
    assert.ok(Math.abs(l2NormSquared(x) - q) <= 1e-12 * Math.max(1, n), `l2sq n=${n}`);
    assert.ok(Math.abs(l2Norm(x) - Math.sqrt(q)) <= 1e-12 * Math.max(1, n), `l2 n=${n}`);
  }
  assert.equal(l2Norm(Float32Array.from([3, 4])), 5);
  assert.equal(dot(Float32Array.from([1, 2, 3, 4, 5]), Float32Array.from([5, 4, 3, 2, 1])), 35);
});

test('vector kernels reject bad arguments', () => {
  const a = new Float32Array(3);
  const b = new Float32Array(4);
  assert.throws(() => axpy(1, a, b), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => axpy(NaN, a, a), code('KERNEL_NON_FINITE'));
  assert.throws(() => scaleInto(a, Infinity, a), code('KERNEL_NON_FINITE'));
  assert.throws(() => scaleInto(a, 1, b), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => dot(a, b), code('KERNEL_LENGTH_MISMATCH'));
});

test('spec 1: FedAvg of [1,2] (n=1) and [3,4] (n=3) is [2.5, 3.5]', () => {
  const xs = [Float32Array.from([1, 2]), Float32Array.from([3, 4])];
  const n = [1, 3];
  const total = n[0] + n[1];
  const out = new Float32Array(2);
  weightedSum(xs, n.map((k) => k / total), out);
  assert.deepEqual([...out], [2.5, 3.5]);
});

test('weightedSum matches a float64 reference for 1..13 arrays (every grouping)', () => {
  const len = 32768 + 4099; // crosses a block boundary; the tail is not a multiple of the unroll
  for (let count = 1; count <= 13; count++) {
    const xs = Array.from({ length: count }, (_, i) => randomArray(len, 100 * count + i, 10));
    const r = rng(count);
    const w = Array.from({ length: count }, () => r() * 2 - 0.5);
    const out = new Float32Array(len);
    weightedSum(xs, w, out);
    let worst = 0;
    for (let j = 0; j < len; j++) {
      let ref = 0;
      let mag = 0;
      for (let i = 0; i < count; i++) {
        ref += w[i] * xs[i][j];
        mag += Math.abs(w[i] * xs[i][j]);
      }
      worst = Math.max(worst, Math.abs(out[j] - ref) / mag);
    }
    // One float32 rounding per group of five float64-summed arrays, each below 2^-24·Σ|wᵢxᵢ|.
    const bound = Math.ceil(count / 5) * 2 ** -24 * (1 + 1e-9);
    assert.ok(worst <= bound, `count=${count}: relative error ${worst} > ${bound}`);
  }
});

test('weightedSum is bit-reproducible; out may be one of the first five inputs, no other overlap', () => {
  const xs = Array.from({ length: 6 }, (_, i) => randomArray(5000, i + 7));
  const w = [0.1, 0.2, 0.3, 0.15, 0.05, 0.2];
  const a = new Float32Array(5000);
  const b = new Float32Array(5000);
  weightedSum(xs, w, a);
  weightedSum(xs, w, b);
  assert.deepEqual(a, b);
  const alias = xs.map((x) => x.slice());
  weightedSum(alias, w, alias[0]);
  assert.deepEqual(alias[0], a);
  const alias2 = xs.map((x) => x.slice());
  weightedSum(alias2, w, alias2[4]);
  assert.deepEqual(alias2[4], a);
  const alias3 = xs.map((x) => x.slice());
  assert.throws(() => weightedSum(alias3, w, alias3[5]), (e: unknown) => code('KERNEL_BAD_ARGUMENT')(e) && /xs\[5\]/.test(String(e)));
  assert.deepEqual(alias3[5], xs[5]); // refused before writing
  const big = new Float32Array(10);
  assert.throws(() => weightedSum([big.subarray(0, 5)], [1], big.subarray(4, 9)), code('KERNEL_BAD_ARGUMENT'));
  weightedSum([big.subarray(0, 5)], [1], big.subarray(5, 10)); // same buffer, disjoint: fine
});

test('weightedSum rejects bad arguments', () => {
  const a = new Float32Array(4);
  const out = new Float32Array(4);
  assert.throws(() => weightedSum([], [], out), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => weightedSum([a, new Float32Array(3)], [1, 1], out), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => weightedSum([a], [1], new Float32Array(5)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => weightedSum([a, a], [1], out), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => weightedSum([a, a], [1, NaN], out), code('KERNEL_NON_FINITE'));
  assert.throws(() => weightedSum([a], [Infinity], out), code('KERNEL_NON_FINITE'));
  assert.throws(() => weightedSum([a, new Float64Array(4) as unknown as Float32Array], [1, 1], out), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => weightedSum([a], [NaN], out), /weights\[0\]/);
});

test('spec 9: clipping [3,4] to C = 1 gives [0.6, 0.8]', () => {
  const u = Float32Array.from([3, 4]);
  const r = clipByGlobalNorm([u], 1);
  assert.equal(r.norm, 5);
  assert.equal(r.scale, 0.2);
  close(u, [0.6, 0.8], 1e-7);
});

test('clipByGlobalNorm uses the norm over all arrays and leaves small or zero updates alone', () => {
  const a = Float32Array.from([3]);
  const b = Float32Array.from([0, 4]);
  const r = clipByGlobalNorm([a, b], 2.5);
  assert.equal(r.norm, 5);
  close(a, [1.5], 1e-7);
  close(b, [0, 2], 1e-7);
  const small = Float32Array.from([0.3, 0.4]);
  const rs = clipByGlobalNorm([small], 1);
  assert.equal(rs.scale, 1);
  assert.ok(Math.abs(rs.norm - 0.5) < 1e-7);
  assert.deepEqual([...small], [Math.fround(0.3), Math.fround(0.4)]);
  const zero = new Float32Array(3);
  assert.deepEqual(clipByGlobalNorm([zero], 1), { norm: 0, scale: 1 });
  assert.deepEqual(clipByGlobalNorm([], 1), { norm: 0, scale: 1 });
  // The clipped norm is maxNorm up to float32 rounding.
  const big = randomArray(10000, 3, 100);
  clipByGlobalNorm([big], 7);
  assert.ok(Math.abs(l2Norm(big) - 7) < 1e-5);
});

test('clipByGlobalNorm rejects bad arguments before writing', () => {
  const u = Float32Array.from([3, 4]);
  assert.throws(() => clipByGlobalNorm([u], 0), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => clipByGlobalNorm([u], -1), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => clipByGlobalNorm([u], NaN), code('KERNEL_NON_FINITE'));
  assert.throws(() => clipByGlobalNorm([u], Infinity), code('KERNEL_NON_FINITE'));
  assert.throws(() => clipByGlobalNorm([u, [1] as unknown as Float32Array], 1), code('KERNEL_BAD_ARGUMENT'));
  const bad = Float32Array.from([3, NaN]);
  assert.throws(() => clipByGlobalNorm([u, bad], 1), code('KERNEL_NON_FINITE'));
  assert.deepEqual([...u], [3, 4]);
  assert.throws(() => clipByGlobalNorm([Float32Array.from([Infinity])], 1), code('KERNEL_NON_FINITE'));
});
