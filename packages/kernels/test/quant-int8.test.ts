import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INT8_DEFAULT_BLOCK,
  int8ScaleCount,
  quantiseInt8,
  dequantiseInt8,
  dequantiseInt8Accumulate,
} from '../src/quant/index.js';
import { throwsCode, randomArray } from './helpers.js';

function quant(x: Float32Array, bs: number) {
  const q = new Int8Array(x.length);
  const scales = new Float32Array(int8ScaleCount(x.length, bs));
  const residual = new Float32Array(x.length);
  quantiseInt8(x, bs, q, scales, residual);
  return { q, scales, residual };
}

test('spec vector: linear option, each half as one partial block', () => {
  const a = new Float32Array([0.5, -1, 0.25, 2, 0.01, -0.02, 0.03, 0]);
  const lo = quant(a.subarray(0, 4), 32);
  const hi = quant(a.subarray(4, 8), 32);
  assert.deepEqual([...lo.q, ...hi.q], [32, -64, 16, 127, 42, -85, 127, 0]);
  assert.equal(lo.scales[0], Math.fround(2 / 127));
  assert.equal(hi.scales[0], Math.fround(Math.fround(0.03) / 127));
});

test('ties round half to even (-63.5 -> -64, 0.5 -> 0, 1.5 -> 2, 2.5 -> 2)', () => {
  // absmax 127 makes the scaled value x itself.
  const x = new Float32Array([127, -63.5, 0.5, 1.5, 2.5, -0.5, -2.5, 3.5]);
  const { q } = quant(x, 32);
  assert.deepEqual([...q], [127, -64, 0, 2, 2, 0, -2, 4]);
});

test('int8ScaleCount and default block', () => {
  assert.equal(INT8_DEFAULT_BLOCK, 256);
  assert.equal(int8ScaleCount(0, 256), 0);
  assert.equal(int8ScaleCount(1, 256), 1);
  assert.equal(int8ScaleCount(256, 256), 1);
  assert.equal(int8ScaleCount(257, 256), 2);
  assert.equal(int8ScaleCount(8192, 4096), 2);
});

test('all-zero block gives scale 0 and q 0; zero residual', () => {
  const x = new Float32Array(100);
  x.fill(1, 64); // second block nonzero
  const { q, scales, residual } = quant(x, 64);
  assert.equal(scales[0], 0);
  assert.ok(q.subarray(0, 64).every((v) => v === 0));
  assert.ok(residual.subarray(0, 64).every((v) => v === 0));
  assert.equal(scales[1], Math.fround(1 / 127));
  assert.ok(q.subarray(64).every((v) => v === 127));
  const out = new Float32Array(100);
  dequantiseInt8(q, scales, 64, out);
  assert.deepEqual([...out.subarray(0, 64)], new Array(64).fill(0));
});

test('round trip error is at most half a step, for edge block sizes and lengths', () => {
  const cases: Array<[number, number]> = [
    [32, 32],
    [32, 33],
    [32, 31],
    [32, 1],
    [256, 1000],
    [4096, 4096],
    [4096, 10000],
    [4096, 100],
    [100, 12345],
  ];
  for (const [bs, n] of cases) {
    const x = randomArray(n, bs * 7 + n, 3);
    const { q, scales, residual } = quant(x, bs);
    assert.equal(scales.length, Math.ceil(n / bs));
    const out = new Float32Array(n);
    dequantiseInt8(q, scales, bs, out);
    for (let i = 0; i < n; i++) {
      const s = scales[Math.floor(i / bs)];
      const err = Math.abs(x[i] - out[i]);
      assert.ok(err <= s / 2 + 1e-5 * s + 1e-7 * Math.abs(x[i]), `bs=${bs} n=${n} i=${i}: err ${err} > ${s / 2}`);
      assert.ok(q[i] >= -127 && q[i] <= 127);
      // residual is exactly what dequantisation misses (both in float32).
      assert.equal(residual[i], Math.fround(x[i] - out[i]));
    }
    // The absmax element of each block maps to ±127.
    for (let b = 0; b < scales.length; b++) {
      let best = b * bs;
      for (let i = b * bs; i < Math.min(n, (b + 1) * bs); i++) if (Math.abs(x[i]) > Math.abs(x[best])) best = i;
      assert.equal(Math.abs(q[best]), 127);
    }
  }
});

test('plain (pipelined) and residual (two-pass) paths produce the same q and scales', () => {
  const cases: Array<[number, number]> = [
    [256, 5000],
    [33, 33 * 7],
    [35, 35 * 5 + 3],
    [32, 96],
    [64, 64 * 3 + 1],
    [4096, 3 * 4096],
    [50, 10],
  ];
  for (const [bs, n] of cases) {
    const x = randomArray(n, bs + n, 0.01);
    // An all-zero block (with a -0) in the middle exercises the zero-scale path.
    if (n >= 3 * bs) {
      x.fill(0, bs, 2 * bs);
      x[bs + 1] = -0;
    }
    const q1 = new Int8Array(n);
    const s1 = new Float32Array(int8ScaleCount(n, bs));
    quantiseInt8(x, bs, q1, s1);
    const r = quant(x, bs);
    assert.deepEqual(q1, r.q, `bs=${bs} n=${n}`);
    assert.deepEqual(s1, r.scales, `bs=${bs} n=${n}`);
    if (n >= 3 * bs) {
      assert.equal(s1[1], 0);
      assert.ok(q1.subarray(bs, 2 * bs).every((v) => v === 0));
    }
  }
});

test('residual may alias x (in-place error update)', () => {
  const x = randomArray(300, 5);
  const ref = quant(x, 64);
  const y = x.slice();
  const q = new Int8Array(300);
  const scales = new Float32Array(int8ScaleCount(300, 64));
  quantiseInt8(y, 64, q, scales, y);
  assert.deepEqual(y, ref.residual);
  assert.deepEqual(q, ref.q);
});

test('works on subarrays with a non-zero byteOffset', () => {
  const big = randomArray(1000, 3);
  const x = big.subarray(3, 503);
  const ref = quant(x.slice(), 32);
  const got = quant(x, 32);
  assert.deepEqual(got.q, ref.q);
  assert.deepEqual(got.scales, ref.scales);
});

test('dequantiseInt8Accumulate adds weight * dequant', () => {
  const x = randomArray(777, 11);
  const { q, scales } = quant(x, 128);
  const deq = new Float32Array(777);
  dequantiseInt8(q, scales, 128, deq);
  const out = randomArray(777, 12);
  const expected = out.map((v, i) => v + 0.25 * deq[i]);
  dequantiseInt8Accumulate(q, scales, 128, 0.25, out);
  for (let i = 0; i < 777; i++) assert.ok(Math.abs(out[i] - expected[i]) <= 1e-6, `i=${i}`);
});

test('non-finite input names the element index', () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    // In a full block after a full block (its absmax is taken while block 0 is quantised).
    const y = randomArray(1024, 2);
    y[300] = bad;
    const qy = new Int8Array(1024);
    const sy = new Float32Array(4);
    throwsCode(() => quantiseInt8(y, 256, qy, sy), 'KERNEL_NON_FINITE', /x\[300\]/);
    assert.ok(qy.subarray(256).every((v) => v === 0), 'nothing written past the bad block');
    // In a partial last block.
    const x = randomArray(700, 1);
    x[613] = bad;
    const q = new Int8Array(700);
    const scales = new Float32Array(int8ScaleCount(700, 256));
    throwsCode(() => quantiseInt8(x, 256, q, scales), 'KERNEL_NON_FINITE', /x\[613\]/);
    throwsCode(() => quantiseInt8(x, 256, q, scales, new Float32Array(700)), 'KERNEL_NON_FINITE', /x\[613\]/);
  }
});

test('bad arguments throw the right codes', () => {
  const x = new Float32Array(100);
  const q = new Int8Array(100);
  const s = new Float32Array(4);
  for (const bs of [31, 4097, 0, -32, 32.5, NaN]) {
    throwsCode(() => quantiseInt8(x, bs, q, s), 'KERNEL_BLOCK_SIZE', /blockSize/);
    throwsCode(() => dequantiseInt8(q, s, bs, new Float32Array(100)), 'KERNEL_BLOCK_SIZE');
    throwsCode(() => int8ScaleCount(100, bs), 'KERNEL_BLOCK_SIZE');
  }
  throwsCode(() => int8ScaleCount(-1, 32), 'KERNEL_BAD_ARGUMENT');
  throwsCode(() => quantiseInt8(x, 32, new Int8Array(99), s), 'KERNEL_LENGTH_MISMATCH', /q/);
  throwsCode(() => quantiseInt8(x, 32, q, new Float32Array(3)), 'KERNEL_LENGTH_MISMATCH', /scales/);
  throwsCode(() => quantiseInt8(x, 32, q, s, new Float32Array(101)), 'KERNEL_LENGTH_MISMATCH', /residual/);
  throwsCode(() => dequantiseInt8(q, new Float32Array(5), 32, new Float32Array(100)), 'KERNEL_LENGTH_MISMATCH', /scales/);
  throwsCode(() => dequantiseInt8(q, s, 32, new Float32Array(99)), 'KERNEL_LENGTH_MISMATCH', /out/);
  const badScales = new Float32Array([1, 1, NaN, 1]);
  throwsCode(() => dequantiseInt8(q, badScales, 32, new Float32Array(100)), 'KERNEL_NON_FINITE', /scales\[2\]/);
  throwsCode(() => dequantiseInt8Accumulate(q, badScales, 32, 1, new Float32Array(100)), 'KERNEL_NON_FINITE');
  throwsCode(() => dequantiseInt8Accumulate(q, s, 32, Infinity, new Float32Array(100)), 'KERNEL_NON_FINITE', /weight/);
});
