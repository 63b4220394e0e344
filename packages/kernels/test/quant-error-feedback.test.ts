import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  scaledSign,
  oneBitByteCount,
  oneBitCompress,
  oneBitDecompress,
  quantiseInt8,
  dequantiseInt8,
  int8ScaleCount,
} from '../src/quant/index.js';
import { throwsCode } from './helpers.js';

function close(actual: ArrayLike<number>, expected: number[], tol: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

test('spec: EF scaled sign on p = [0.3, -0.1, 0.2, -0.4]', () => {
  const p = new Float32Array([0.3, -0.1, 0.2, -0.4]);
  const c = new Float32Array(4);
  const scale = scaledSign(p, c);
  assert.ok(Math.abs(scale - 0.25) < 1e-7);
  close(c, [0.25, -0.25, 0.25, -0.25], 1e-7);
  const e = p.map((v, i) => v - c[i]);
  close(e, [0.05, 0.15, -0.05, -0.15], 1e-7);
});

test('scaledSign: sign(0) = 0, in place, empty', () => {
  const p = new Float32Array([2, 0, -0, -2]);
  const scale = scaledSign(p, p);
  assert.equal(scale, 1);
  assert.deepEqual([...p], [1, 0, 0, -1]);
  assert.equal(scaledSign(new Float32Array(0), new Float32Array(0)), 0);
});

test('spec: 1-bit on p = [0.3, -0.1, 0.2, -0.4] gives scale 0.273861', () => {
  const z = new Float32Array([0.3, -0.1, 0.2, -0.4]);
  const bits = new Uint8Array(1);
  const residual = new Float32Array(4);
  const scale = oneBitCompress(z, bits, residual);
  assert.ok(Math.abs(scale - 0.273861) < 1e-6, `scale ${scale}`);
  assert.equal(bits[0], 0b1010_0000); // MSB first: +, -, +, -; unused bits 0
  const c = new Float32Array(4);
  oneBitDecompress(bits, scale, 4, c);
  assert.deepEqual([...c], [scale, -scale, scale, -scale]);
  for (let i = 0; i < 4; i++) assert.equal(residual[i], Math.fround(z[i] - c[i]));
});

test('1-bit: sgn(0) = +1 (also -0), bit layout across bytes, in-place residual', () => {
  const n = 19;
  const z = new Float32Array(n);
  const next = lcg(3);
  for (let i = 0; i < n; i++) z[i] = next();
  z[0] = 0;
  z[9] = -0;
  const zCopy = z.slice();
  const bits = new Uint8Array(oneBitByteCount(n));
  assert.equal(bits.length, 3);
  const scale = oneBitCompress(z, bits, z); // residual overwrites z
  let ss = 0;
  for (const v of zCopy) ss += v * v;
  assert.equal(scale, Math.fround(Math.sqrt(ss / n)));
  for (let i = 0; i < n; i++) {
    const bit = (bits[i >> 3] >> (7 - (i & 7))) & 1;
    assert.equal(bit, zCopy[i] >= 0 ? 1 : 0, `bit ${i}`);
    const c = zCopy[i] >= 0 ? scale : -scale;
    assert.equal(z[i], Math.fround(zCopy[i] - c));
  }
  assert.equal(bits[2] & 0b0001_1111, 0, 'unused trailing bits are 0');
  const out = new Float32Array(n);
  oneBitDecompress(bits, scale, n, out);
  assert.equal(out[0], scale);
  assert.equal(out[9], scale);
});

test('1-bit without residual leaves z untouched; n = 0', () => {
  const z = new Float32Array([1, -2, 3]);
  const bits = new Uint8Array(1);
  oneBitCompress(z, bits);
  assert.deepEqual([...z], [1, -2, 3]);
  assert.equal(bits[0], 0b1010_0000);
  assert.equal(oneBitCompress(new Float32Array(0), new Uint8Array(0)), 0);
});

/**
 * Runs EF for T steps; `compress` writes the transmitted c and the new residual e (from the
 * kernel where it offers one). Checks Σ c_t + e_T ≈ Σ η·g_t.
 */
function efInvariant(compress: (p: Float32Array, c: Float32Array, e: Float32Array) => void): number {
  const d = 300;
  const T = 60;
  const eta = 0.1;
  const next = lcg(17);
  const e = new Float32Array(d);
  const sumC = new Float64Array(d);
  const sumG = new Float64Array(d);
  const p = new Float32Array(d);
  const c = new Float32Array(d);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < d; i++) {
      const g = next() * (1 + (i % 7));
      const step = Math.fround(eta * g);
      sumG[i] += step;
      p[i] = step + e[i];
    }
    compress(p, c, e);
    for (let i = 0; i < d; i++) sumC[i] += c[i];
  }
  let worst = 0;
  let total = 0;
  for (let i = 0; i < d; i++) {
    worst = Math.max(worst, Math.abs(sumC[i] + e[i] - sumG[i]));
    total += Math.abs(sumG[i]);
  }
  assert.ok(worst < 1e-4, `invariant broken by ${worst}`);
  assert.ok(total > 1, 'the updates must not be trivially zero');
  return worst;
}

test('EF invariant with scaledSign: Σ c_t + e_T = Σ η·g_t', () => {
  efInvariant((p, c, e) => {
    scaledSign(p, c);
    for (let i = 0; i < p.length; i++) e[i] = p[i] - c[i];
  });
});

test('EF invariant with the int8 residual path', () => {
  const d = 300;
  const bs = 32;
  const q = new Int8Array(d);
  const scales = new Float32Array(int8ScaleCount(d, bs));
  efInvariant((p, c, e) => {
    quantiseInt8(p, bs, q, scales, e); // the kernel's residual is the new error
    dequantiseInt8(q, scales, bs, c);
  });
});

test('EF invariant with 1-bit compression', () => {
  const d = 300;
  const bits = new Uint8Array(oneBitByteCount(d));
  efInvariant((p, c, e) => {
    const scale = oneBitCompress(p, bits, e);
    oneBitDecompress(bits, scale, d, c);
  });
});

test('bad arguments throw the right codes', () => {
  throwsCode(() => scaledSign(new Float32Array(3), new Float32Array(4)), 'KERNEL_LENGTH_MISMATCH', /out/);
  throwsCode(() => scaledSign(new Float32Array([1, NaN]), new Float32Array(2)), 'KERNEL_NON_FINITE', /p\[1\]/);
  throwsCode(() => oneBitCompress(new Float32Array(9), new Uint8Array(1)), 'KERNEL_LENGTH_MISMATCH', /bits/);
  throwsCode(() => oneBitCompress(new Float32Array(9), new Uint8Array(2), new Float32Array(8)), 'KERNEL_LENGTH_MISMATCH', /residual/);
  throwsCode(() => oneBitCompress(new Float32Array([0, Infinity]), new Uint8Array(1)), 'KERNEL_NON_FINITE', /z\[1\]/);
  throwsCode(() => oneBitDecompress(new Uint8Array(1), NaN, 8, new Float32Array(8)), 'KERNEL_NON_FINITE', /scale/);
  throwsCode(() => oneBitDecompress(new Uint8Array(1), 1, 9, new Float32Array(9)), 'KERNEL_LENGTH_MISMATCH', /bits/);
  throwsCode(() => oneBitDecompress(new Uint8Array(1), 1, 8, new Float32Array(7)), 'KERNEL_LENGTH_MISMATCH', /out/);
  throwsCode(() => oneBitDecompress(new Uint8Array(1), 1, -1, new Float32Array(0)), 'KERNEL_BAD_ARGUMENT', /n/);
  throwsCode(() => oneBitByteCount(2.5), 'KERNEL_BAD_ARGUMENT');
});
