import { test } from 'node:test';
import assert from 'node:assert/strict';
import { int8ScaleCount, int4PackedBytes, quantiseInt4, dequantiseInt4, int4InvalidCode } from '../src/quant/index.js';
import { throwsCode, randomArray } from './helpers.js';

function quant(x: Float32Array, bs: number) {
  const packed = new Uint8Array(int4PackedBytes(x.length));
  const scales = new Float32Array(int8ScaleCount(x.length, bs));
  const residual = new Float32Array(x.length);
  quantiseInt4(x, bs, packed, scales, residual);
  return { packed, scales, residual };
}

/** The code of element i, read back independently of the kernel's nibble helper. */
function code(packed: Uint8Array, i: number): number {
  const nib = i % 2 === 0 ? packed[Math.floor(i / 2)] & 15 : packed[Math.floor(i / 2)] >> 4;
  return nib >= 8 ? nib - 16 : nib;
}

test('hand vector: absmax scale, ties to even, nibbles low then high', () => {
  // absmax 7 gives scale 1: codes are x rounded half to even.
  const x = new Float32Array([7, -7, 0.5, 1.5, -2.5, 3.49, 0, -0.51]);
  const { packed, scales, residual } = quant(Float32Array.from([...x, ...new Float32Array(24)]), 32);
  assert.deepEqual([...scales], [1]);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => code(packed, i)), [7, -7, 0, 2, -2, 3, 0, -1]);
  // Byte 0 holds 7 (low) and -7 = 0b1001 (high).
  assert.equal(packed[0], 0x97);
  assert.ok(Math.abs(residual[5] - 0.49) < 1e-6);
  // Without a residual the kernel takes its other loop: the same codes, ties included.
  const plain = new Uint8Array(16);
  quantiseInt4(Float32Array.from([...x, ...new Float32Array(24)]), 32, plain, new Float32Array(1));
  assert.deepEqual(plain, packed);
});

test('each code is the nearest of the 15 levels, and the error is at most half a step', () => {
  for (const [n, bs, seed] of [[1000, 32, 1], [257, 256, 2], [4097, 4096, 3], [33, 32, 4], [1, 32, 5]] as const) {
    const x = randomArray(n, seed, 3);
    const { packed, scales, residual } = quant(x, bs);
    const out = new Float32Array(n);
    dequantiseInt4(packed, scales, bs, out);
    for (let i = 0; i < n; i++) {
      const s = scales[Math.floor(i / bs)];
      // Independent derivation: search every level for the nearest.
      let best = 0;
      for (let c = -7; c <= 7; c++) if (Math.abs(x[i] - c * s) < Math.abs(x[i] - best * s) - 1e-7 * s) best = c;
      assert.equal(code(packed, i), best, `element ${i} of n=${n}`);
      assert.ok(Math.abs(x[i] - out[i]) <= s / 2 + 1e-6 * s, `element ${i}: error over half a step`);
      assert.equal(residual[i], x[i] - out[i]);
    }
    if (n % 2 === 1) assert.equal(packed[packed.length - 1] >> 4, 0, 'padding nibble');
  }
});

test('an all-zero block stores scale 0 and codes 0; residual may alias x', () => {
  const x = new Float32Array(64);
  x.set(randomArray(32, 9), 32);
  const copy = x.slice();
  const { packed, scales } = quant(x, 32);
  assert.equal(scales[0], 0);
  for (let i = 0; i < 32; i++) assert.equal(code(packed, i), 0);
  const p2 = new Uint8Array(32);
  const s2 = new Float32Array(2);
  quantiseInt4(x, 32, p2, s2, x);
  assert.deepEqual(p2, packed);
  const out = new Float32Array(64);
  dequantiseInt4(p2, s2, 32, out);
  for (let i = 0; i < 64; i++) assert.equal(x[i], copy[i] - out[i]);
});

test('int4InvalidCode finds -8 and a non-zero padding nibble', () => {
  const { packed } = quant(randomArray(65, 3), 32);
  assert.equal(int4InvalidCode(packed, 65), -1);
  const bad = packed.slice();
  bad[3] = (bad[3] & 0x0f) | 0x80; // element 7 = -8
  assert.equal(int4InvalidCode(bad, 65), 7);
  const pad = packed.slice();
  pad[32] |= 0x10;
  assert.equal(int4InvalidCode(pad, 65), 65);
});

test('non-finite input names the element; wrong lengths and block sizes are refused', () => {
  const x = randomArray(100, 1);
  x[70] = NaN;
  throwsCode(() => quant(x, 32), 'KERNEL_NON_FINITE', /x\[70\]/);
  x[70] = -Infinity;
  throwsCode(() => quant(x, 32), 'KERNEL_NON_FINITE', /x\[70\]/);
  throwsCode(() => quantiseInt4(new Float32Array(10), 32, new Uint8Array(4), new Float32Array(1)), 'KERNEL_LENGTH_MISMATCH');
  throwsCode(() => quantiseInt4(new Float32Array(10), 16, new Uint8Array(5), new Float32Array(1)), 'KERNEL_BLOCK_SIZE');
  throwsCode(() => dequantiseInt4(new Uint8Array(5), new Float32Array(2), 32, new Float32Array(10)), 'KERNEL_LENGTH_MISMATCH');
  throwsCode(() => int4PackedBytes(-1), 'KERNEL_BAD_ARGUMENT');
});

test('odd block sizes put block edges inside bytes; a reused buffer with stale codes gives the same bytes', () => {
  for (const [n, bs] of [[101, 33], [100, 33], [67, 35]] as const) {
    const x = randomArray(n, n + bs, 2);
    const fresh = quant(x, bs);
    const packed = new Uint8Array(int4PackedBytes(n)).fill(0xff);
    const scales = new Float32Array(int8ScaleCount(n, bs));
    quantiseInt4(x, bs, packed, scales);
    assert.deepEqual(packed, fresh.packed, `n=${n} block ${bs}`);
    const out = new Float32Array(n);
    dequantiseInt4(packed, scales, bs, out);
    for (let i = 0; i < n; i++) {
      assert.equal(out[i], Math.fround(code(packed, i) * scales[Math.floor(i / bs)]), `element ${i}`);
      assert.equal(fresh.residual[i], Math.fround(x[i] - out[i]), `residual ${i}`);
    }
  }
});
