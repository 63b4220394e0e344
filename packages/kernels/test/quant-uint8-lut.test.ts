import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantiseUint8Lut, dequantiseUint8Lut, UINT8_LUT_SIZE } from '../src/quant/index.js';
import { throwsCode } from './helpers.js';

function run(xs: number[] | Float32Array) {
  const x = xs instanceof Float32Array ? xs : new Float32Array(xs);
  const q = new Uint8Array(x.length);
  const lut = new Float32Array(UINT8_LUT_SIZE);
  quantiseUint8Lut(x, q, lut);
  const out = new Float32Array(x.length);
  dequantiseUint8Lut(q, lut, out);
  return { x, q, lut, out };
}

test('spec vector (section 3)', () => {
  const { x, q, lut, out } = run([0.5, 0.505, -1, 2, -0.75, 0, 1.5, -2]);
  // σ = 1.326517, s = 0.0310902 (checked through the bins they produce).
  let ss = 0;
  for (const v of x) ss += v * v;
  const sigma = Math.sqrt(ss / 7);
  assert.ok(Math.abs(sigma - 1.326517) < 1e-6);
  assert.ok(Math.abs((6 * sigma) / 256 - 0.0310902) < 1e-7);
  assert.deepEqual([...q], [144, 144, 96, 192, 104, 128, 176, 64]);
  const expected = [0.5025, 0.5025, -1, 2, -0.75, 0, 1.5, -2];
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(out[i] - expected[i]) < 1e-6, `x̂[${i}] = ${out[i]}`);
  assert.equal(lut[144], Math.fround((Math.fround(0.5) + Math.fround(0.505)) / 2));
  // Empty bins are 0.
  assert.equal(lut[0], 0);
  assert.equal(lut[145], 0);
});

test('property: one value per occupied bin decodes exactly', () => {
  // Values at distinct multiples of a spacing larger than the bin width.
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + trial * 3;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.fround((i - n / 2) * 0.37 + Math.sin(trial + i) * 0.01);
    const { q, out } = run(x);
    const used = new Set(q);
    if (used.size !== n) continue; // only the precondition's cases count
    assert.deepEqual(out, x);
  }
  // And a case that is certain to satisfy the precondition.
  const { q, out, x } = run([1, -1, 0.5, -0.25, 0]);
  assert.equal(new Set(q).size, 5);
  assert.deepEqual(out, x);
});

test('outliers clamp to bins 0 and 255', () => {
  const x = new Float32Array(1000).fill(0.001);
  x[10] = 1000;
  x[20] = -1000;
  const { q, lut } = run(x);
  assert.equal(q[10], 255);
  assert.equal(q[20], 0);
  assert.equal(lut[255], 1000);
  assert.equal(lut[0], -1000);
});

test('rounding is half away from zero (exact ties)', () => {
  // n = 37 makes √(n−1) = 6, so s = fround(6σ/256) = ‖x‖/256; with Σx² = 4096 exactly the
  // bin width is 0.25 and the probes below sit exactly on half steps.
  const x = new Float32Array(37);
  x.set([48, 42, 5, 1.5, 0.25, 0.25, 0.25]); // squares sum to 4095.4375
  x.set([0.125, -0.125, 0.375, -0.625], 7); // t = 0.5, -0.5, 1.5, -2.5; squares sum to 0.5625
  const { q } = run(x);
  assert.deepEqual([...q.subarray(7, 11)], [129, 127, 130, 125]); // half-even would give 128, 128, 130, 126
  assert.deepEqual([...q.subarray(0, 4)], [255, 255, 148, 134]);
});

test('n = 1 and σ = 0 give q = 128 and an all-zero table', () => {
  for (const xs of [[3.5], [0, 0, 0], [-0, 0]]) {
    const x = new Float32Array(xs);
    const q = new Uint8Array(x.length).fill(7);
    const lut = new Float32Array(256).fill(9);
    quantiseUint8Lut(x, q, lut);
    assert.ok(q.every((v) => v === 128));
    assert.ok(lut.every((v) => v === 0));
  }
  const lut = new Float32Array(256).fill(9);
  quantiseUint8Lut(new Float32Array(0), new Uint8Array(0), lut);
  assert.ok(lut.every((v) => v === 0));
});

test('table entries are bin means; decode error within one bin width', () => {
  const n = 5000;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 1.7) * Math.cos(i * 0.11);
  const { q, lut, out } = run(x);
  const sums = new Float64Array(256);
  const counts = new Float64Array(256);
  for (let i = 0; i < n; i++) {
    sums[q[i]] += x[i];
    counts[q[i]]++;
  }
  for (let b = 0; b < 256; b++) assert.equal(lut[b], counts[b] ? Math.fround(sums[b] / counts[b]) : 0);
  let ss = 0;
  for (const v of x) ss += v * v;
  const s = (6 * Math.sqrt(ss / (n - 1))) / 256;
  for (let i = 0; i < n; i++) {
    if (q[i] === 0 || q[i] === 255) continue;
    assert.ok(Math.abs(out[i] - x[i]) <= s * 1.0001, `i=${i}`);
  }
});

test('bad arguments throw the right codes', () => {
  throwsCode(() => quantiseUint8Lut(new Float32Array(4), new Uint8Array(3), new Float32Array(256)), 'KERNEL_LENGTH_MISMATCH', /q/);
  throwsCode(() => quantiseUint8Lut(new Float32Array(4), new Uint8Array(4), new Float32Array(255)), 'KERNEL_LENGTH_MISMATCH', /lut/);
  throwsCode(() => quantiseUint8Lut(new Float32Array([1, NaN, 2]), new Uint8Array(3), new Float32Array(256)), 'KERNEL_NON_FINITE', /x\[1\]/);
  throwsCode(() => quantiseUint8Lut(new Float32Array([1, 2, -Infinity]), new Uint8Array(3), new Float32Array(256)), 'KERNEL_NON_FINITE', /x\[2\]/);
  throwsCode(() => dequantiseUint8Lut(new Uint8Array(4), new Float32Array(256), new Float32Array(5)), 'KERNEL_LENGTH_MISMATCH', /out/);
  throwsCode(() => dequantiseUint8Lut(new Uint8Array(4), new Float32Array(257), new Float32Array(4)), 'KERNEL_LENGTH_MISMATCH', /lut/);
  const lut = new Float32Array(256);
  lut[200] = NaN;
  throwsCode(() => dequantiseUint8Lut(new Uint8Array(4), lut, new Float32Array(4)), 'KERNEL_NON_FINITE', /lut\[200\]/);
});
