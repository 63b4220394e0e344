import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dynamicMap, quantiseDynamic, dequantiseDynamic } from '../src/quant/index.js';
import { throwsCode } from './helpers.js';

function close(actual: ArrayLike<number>, expected: number[], tol: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

test('dynamic map: endpoints, zero, sorted, symmetric', () => {
  const c = dynamicMap();
  assert.equal(c.length, 256);
  assert.equal(c[0], Math.fround(-0.99296875));
  assert.equal(c[127], 0);
  assert.equal(c[255], 1);
  for (let i = 1; i < 256; i++) assert.ok(c[i] > c[i - 1], `not strictly increasing at ${i}`);
  // Negative half mirrors the positive half (1 has no negative partner; 0 is its own).
  for (let k = 0; k < 127; k++) assert.equal(c[k], -c[254 - k], `k=${k}`);
  // Smallest magnitude: 1e-6 * (0.1 + 1) / 2.
  assert.ok(Math.abs(c[128] - 5.5e-7) < 1e-12);
  // Returns a copy: mutating it does not affect later calls.
  c[0] = 5;
  assert.equal(dynamicMap()[0], Math.fround(-0.99296875));
});

test('dynamic map: each decade holds 2^i values of linspace means', () => {
  const c = dynamicMap();
  // Positive entries 128..254 are 1+2+4+...+64 = 127 values; in decade i (scale 10^(i-6))
  // there are 2^i of them, all in [0.1, 1) * 10^(i-6).
  let idx = 128;
  for (let i = 0; i < 7; i++) {
    const lo = 0.1 * 10 ** (i - 6);
    const hi = 10 ** (i - 6);
    for (let j = 0; j < 2 ** i; j++, idx++) {
      assert.ok(c[idx] > lo * 0.999999 && c[idx] < hi, `idx=${idx} value ${c[idx]} outside decade ${i}`);
    }
  }
  assert.equal(idx, 255);
});

test('spec vector A with block size 4', () => {
  const a = new Float32Array([0.5, -1, 0.25, 2, 0.01, -0.02, 0.03, 0]);
  const q = new Uint8Array(8);
  const absmax = new Float32Array(2);
  quantiseDynamic(a, 4, q, absmax);
  assert.deepEqual([...absmax], [2, Math.fround(0.03)]);
  assert.deepEqual([...q], [201, 35, 192, 255, 207, 23, 255, 127]);
  const out = new Float32Array(8);
  dequantiseDynamic(q, absmax, 4, out);
  close(out, [0.495312, -1.001562, 0.242188, 2, 0.009961, -0.020086, 0.03, 0], 1e-6);
});

test('q is the nearest code entry (brute force), ties to the lower index', () => {
  const c = dynamicMap();
  const n = 4000;
  const x = new Float32Array(n);
  let s = 7;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    x[i] = (u - 0.5) * 10 ** (-((s >>> 7) % 7)); // spread over decades
  }
  const bs = 64;
  const q = new Uint8Array(n);
  const absmax = new Float32Array(Math.ceil(n / bs));
  quantiseDynamic(x, bs, q, absmax);
  for (let i = 0; i < n; i++) {
    const a = absmax[Math.floor(i / bs)];
    const y = Math.max(-1, Math.min(1, Math.fround(x[i] / a)));
    let best = 0;
    for (let k = 1; k < 256; k++) if (Math.abs(c[k] - y) < Math.abs(c[best] - y)) best = k;
    assert.equal(q[i], best, `i=${i} y=${y}`);
  }
  // -1 (clamped) maps to code[0], the closest available.
  const t2 = new Float32Array([-1, 0.5]);
  const tq2 = new Uint8Array(2);
  quantiseDynamic(t2, 2, tq2, new Float32Array(1));
  assert.equal(tq2[0], 0);
});

test('exact-midpoint tie goes to the lower index', () => {
  const c = dynamicMap();
  // Find some k whose midpoint is a float32 and lies strictly between the entries.
  let found = 0;
  for (let k = 128; k < 254; k++) {
    const mid = (c[k] + c[k + 1]) / 2;
    if (Math.fround(mid) !== mid) continue;
    const t = new Float32Array([1, mid]);
    const tq = new Uint8Array(2);
    quantiseDynamic(t, 2, tq, new Float32Array(1));
    assert.equal(tq[1], k, `midpoint of ${k} and ${k + 1}`);
    found++;
  }
  assert.ok(found > 10, `only ${found} float32 midpoints tested`);
});

test('all-zero block: absmax floored at 1e-38, q = 127, decodes to 0', () => {
  const x = new Float32Array(5);
  const q = new Uint8Array(5);
  const absmax = new Float32Array(1);
  quantiseDynamic(x, 5, q, absmax);
  assert.equal(absmax[0], Math.fround(1e-38));
  assert.deepEqual([...q], [127, 127, 127, 127, 127]);
  const out = new Float32Array(5).fill(9);
  dequantiseDynamic(q, absmax, 5, out);
  assert.deepEqual([...out], [0, 0, 0, 0, 0]);
});

test('relative round-trip error bounded by the code spacing', () => {
  const n = 10000;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.37) * (1 + (i % 13));
  const bs = 4096;
  const q = new Uint8Array(n);
  const absmax = new Float32Array(3);
  quantiseDynamic(x, bs, q, absmax);
  const out = new Float32Array(n);
  dequantiseDynamic(q, absmax, bs, out);
  for (let i = 0; i < n; i++) {
    const a = absmax[Math.floor(i / bs)];
    // Largest code gap is in the top decade: 0.9/64 ≈ 0.0141; half of it per element.
    assert.ok(Math.abs(out[i] - x[i]) <= 0.0071 * a, `i=${i}`);
  }
});

test('bad arguments throw the right codes', () => {
  const x = new Float32Array(10);
  const q = new Uint8Array(10);
  throwsCode(() => quantiseDynamic(x, 0, q, new Float32Array(1)), 'KERNEL_BLOCK_SIZE', /blockSize/);
  throwsCode(() => quantiseDynamic(x, 4097, q, new Float32Array(1)), 'KERNEL_BLOCK_SIZE');
  throwsCode(() => quantiseDynamic(x, 2.5, q, new Float32Array(4)), 'KERNEL_BLOCK_SIZE');
  throwsCode(() => quantiseDynamic(x, 4, new Uint8Array(9), new Float32Array(3)), 'KERNEL_LENGTH_MISMATCH', /q/);
  throwsCode(() => quantiseDynamic(x, 4, q, new Float32Array(2)), 'KERNEL_LENGTH_MISMATCH', /absmax/);
  const bad = new Float32Array(10);
  bad[6] = NaN;
  throwsCode(() => quantiseDynamic(bad, 4, q, new Float32Array(3)), 'KERNEL_NON_FINITE', /x\[6\]/);
  bad[6] = -Infinity;
  throwsCode(() => quantiseDynamic(bad, 4, q, new Float32Array(3)), 'KERNEL_NON_FINITE', /x\[6\]/);
  throwsCode(() => dequantiseDynamic(q, new Float32Array(3), 4, new Float32Array(9)), 'KERNEL_LENGTH_MISMATCH', /out/);
  throwsCode(() => dequantiseDynamic(q, new Float32Array(2), 4, new Float32Array(10)), 'KERNEL_LENGTH_MISMATCH', /absmax/);
  throwsCode(() => dequantiseDynamic(q, new Float32Array([1, Infinity, 1]), 4, new Float32Array(10)), 'KERNEL_NON_FINITE', /absmax\[1\]/);
  throwsCode(() => dequantiseDynamic(q, new Float32Array(1), 8192, new Float32Array(10)), 'KERNEL_BLOCK_SIZE');
});
