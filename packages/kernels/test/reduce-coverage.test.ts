import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskedAccumulate, indexedAccumulate, coverageAverage, weightedSum } from '../src/reduce/index.js';

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

test('spec 6: HeteroFL, full client A plus a half-width client of 100s', () => {
  const A = Float32Array.from({ length: 16 }, (_, i) => i);
  const sum = new Float32Array(16);
  const weightSum = new Float32Array(16);
  maskedAccumulate(sum, weightSum, A, 1); // full-width client returns A unchanged
  // The r = ½ client holds rows 0-1 and columns 0-1 of the 4×4 matrix.
  indexedAccumulate(sum, weightSum, Float32Array.from([100, 100, 100, 100]), Uint32Array.from([0, 1, 4, 5]), 1);
  const out = new Float32Array(16);
  coverageAverage(sum, weightSum, A, out);
  const expected = Array.from(A);
  expected[0] = 50;
  expected[1] = 50.5;
  expected[4] = 52;
  expected[5] = 52.5;
  assert.deepEqual([...out], expected);

  // The same with the half-width client expressed as a mask over a full-size buffer.
  const s2 = new Float32Array(16);
  const w2 = new Float32Array(16);
  maskedAccumulate(s2, w2, A, 1);
  const mask = new Uint8Array(16);
  const x = new Float32Array(16).fill(NaN); // uncovered positions are never read
  for (const j of [0, 1, 4, 5]) {
    mask[j] = 1;
    x[j] = 100;
  }
  maskedAccumulate(s2, w2, x, 1, mask);
  coverageAverage(s2, w2, A, A); // in place on the global model
  assert.deepEqual([...A], expected);
});

test('elements nobody covers keep the fallback', () => {
  const sum = new Float32Array(4);
  const weightSum = new Float32Array(4);
  maskedAccumulate(sum, weightSum, Float32Array.from([2, 2, 2, 2]), 3, Uint8Array.from([1, 0, 1, 0]));
  indexedAccumulate(sum, weightSum, Float32Array.from([6]), Uint32Array.from([2]), 1);
  const fallback = Float32Array.from([-1, -2, -3, -4]);
  const out = new Float32Array(4);
  coverageAverage(sum, weightSum, fallback, out);
  assert.deepEqual([...out], [2, -2, 3, -4]);
  assert.deepEqual([...weightSum], [3, 0, 4, 0]);
});

test('indexedAccumulate accumulates repeated indices', () => {
  const sum = new Float32Array(3);
  const weightSum = new Float32Array(3);
  indexedAccumulate(sum, weightSum, Float32Array.from([1, 2, 3]), Uint32Array.from([2, 2, 0]), 0.5);
  assert.deepEqual([...sum], [1.5, 0, 1.5]);
  assert.deepEqual([...weightSum], [0.5, 0, 1]);
});

test('property: with full masks the coverage average equals the normalised weightedSum', () => {
  const len = 3001;
  const r = rng(5);
  const count = 7;
  const xs = Array.from({ length: count }, () => Float32Array.from({ length: len }, () => r() * 4 - 2));
  const w = Array.from({ length: count }, () => 1 + Math.floor(r() * 50)); // example counts
  const total = w.reduce((a, b) => a + b, 0);
  const sum = new Float32Array(len);
  const weightSum = new Float32Array(len);
  const full = new Uint8Array(len).fill(1);
  for (let i = 0; i < count; i++) maskedAccumulate(sum, weightSum, xs[i], w[i], i % 2 === 0 ? full : undefined);
  const avg = new Float32Array(len);
  coverageAverage(sum, weightSum, new Float32Array(len), avg);
  const ref = new Float32Array(len);
  weightedSum(xs, w.map((k) => k / total), ref);
  for (let j = 0; j < len; j++) {
    assert.ok(Math.abs(avg[j] - ref[j]) <= 1e-5 * (1 + Math.abs(ref[j])), `[${j}] ${avg[j]} vs ${ref[j]}`);
  }
});

test('property: random masks give the mean over exactly the covering updates', () => {
  const len = 500;
  const r = rng(9);
  const count = 5;
  const xs = Array.from({ length: count }, () => Float32Array.from({ length: len }, () => r()));
  const masks = Array.from({ length: count }, () => Uint8Array.from({ length: len }, () => (r() < 0.4 ? 1 : 0)));
  const w = [1, 2, 3, 4, 5];
  const sum = new Float32Array(len);
  const weightSum = new Float32Array(len);
  for (let i = 0; i < count; i++) maskedAccumulate(sum, weightSum, xs[i], w[i], masks[i]);
  const fallback = new Float32Array(len).fill(-7);
  const out = new Float32Array(len);
  coverageAverage(sum, weightSum, fallback, out);
  let uncovered = 0;
  for (let j = 0; j < len; j++) {
    let s = 0;
    let ws = 0;
    for (let i = 0; i < count; i++) {
      if (masks[i][j]) {
        s += w[i] * xs[i][j];
        ws += w[i];
      }
    }
    if (ws === 0) {
      uncovered++;
      assert.equal(out[j], -7);
    } else {
      assert.ok(Math.abs(out[j] - s / ws) <= 1e-6, `[${j}]`);
    }
  }
  assert.ok(uncovered > 0, 'the test should include uncovered elements');
});

test('coverage kernels reject bad arguments, writing nothing', () => {
  const s = new Float32Array(4);
  const w = new Float32Array(4);
  assert.throws(() => maskedAccumulate(s, new Float32Array(3), new Float32Array(4), 1), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => maskedAccumulate(s, w, new Float32Array(5), 1), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => maskedAccumulate(s, w, new Float32Array(4), 1, new Uint8Array(3)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => maskedAccumulate(s, w, new Float32Array(4), NaN), code('KERNEL_NON_FINITE'));
  assert.throws(() => indexedAccumulate(s, w, new Float32Array(2), new Uint32Array(3), 1), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => indexedAccumulate(s, new Float32Array(2), new Float32Array(1), new Uint32Array(1), 1), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => indexedAccumulate(s, w, new Float32Array(1), new Uint32Array(1), Infinity), code('KERNEL_NON_FINITE'));
  assert.throws(
    () => indexedAccumulate(s, w, Float32Array.from([1, 1, 1]), Uint32Array.from([0, 4, 1]), 1),
    (e: unknown) => code('KERNEL_BAD_ARGUMENT')(e) && /indices\[1\] is 4/.test((e as Error).message),
  );
  assert.deepEqual([...s, ...w], new Array(8).fill(0));
  const out = new Float32Array(4);
  assert.throws(() => coverageAverage(new Float32Array(3), w, s, out), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => coverageAverage(s, new Float32Array(3), s, out), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => coverageAverage(s, w, new Float32Array(3), out), code('KERNEL_LENGTH_MISMATCH'));
  // An empty update is a no-op, not an error.
  indexedAccumulate(s, w, new Float32Array(0), new Uint32Array(0), 1);
  assert.deepEqual([...w], [0, 0, 0, 0]);
});
