import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  packFloat16,
  unpackFloat16,
  packBFloat16,
  unpackBFloat16,
  float16Bits,
  float16Value,
} from '../src/quant/index.js';
import { KernelError } from '../src/errors.js';

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof KernelError && e.code === code);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bitsOfFloat(v: number): number {
  f32[0] = v;
  return u32[0];
}
function floatOfBits(b: number): number {
  u32[0] = b >>> 0;
  return f32[0];
}

// ---- Independent slow references -------------------------------------------------------

/** All finite non-negative half values, ascending, with their bit patterns (0..0x7bff). */
const HALF_POS: number[] = [];
for (let h = 0; h <= 0x7bff; h++) {
  const e = h >> 10;
  const m = h & 1023;
  // value = m·2^-24 for e = 0, else (1 + m/1024)·2^(e−15); built by repeated halving.
  let v = e === 0 ? m : 1024 + m;
  let p = e === 0 ? -24 : e - 25;
  while (p < 0) {
    v /= 2;
    p++;
  }
  while (p > 0) {
    v *= 2;
    p--;
  }
  HALF_POS.push(v);
}

/** Reference fp16 rounding of a float (non-NaN): nearest by search, ties to even pattern. */
function refHalf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp (16) ties to the "even" Inf
  let lo = 0;
  let hi = HALF_POS.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (HALF_POS[mid] <= a) lo = mid;
    else hi = mid;
  }
  if (a >= HALF_POS[hi]) return sign | hi;
  const dl = a - HALF_POS[lo];
  const dh = HALF_POS[hi] - a;
  if (dl < dh) return sign | lo;
  if (dh < dl) return sign | hi;
  return sign | (lo % 2 === 0 ? lo : hi);
}

/** Reference bf16 rounding from the float64 value with explicit arithmetic. */
function refBf16(x: number): number {
  const b = bitsOfFloat(x);
  const sign = b >>> 31 ? 0x8000 : 0;
  const a = Math.abs(x);
  const lowBits = b & 0xffff;
  const truncated = (b >>> 16) & 0x7fff;
  if (a === Infinity) return sign | 0x7f80;
  // Compare the dropped part with half of one unit in the last kept place.
  let up = lowBits > 0x8000 || (lowBits === 0x8000 && (truncated & 1) === 1);
  return sign | (truncated + (up ? 1 : 0));
}

function randomFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const r = s;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // Exponent biased towards the fp16 range (96..150 covers subnormal to overflow).
    const exp = 96 + (s % 56);
    bits[i] = (r & 0x80000000) | (exp << 23) | (r & 0x7fffff);
  }
  return out;
}

// ---- fp16 --------------------------------------------------------------------------------

test('fp16: all 65536 patterns unpack then pack back exactly (NaNs stay NaN, sign kept)', () => {
  const src = new Uint16Array(65536);
  for (let h = 0; h < 65536; h++) src[h] = h;
  const f = new Float32Array(65536);
  unpackFloat16(src, f);
  const back = new Uint16Array(65536);
  packFloat16(f, back);
  let nans = 0;
  for (let h = 0; h < 65536; h++) {
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (isNaN) {
      nans++;
      assert.ok(Number.isNaN(f[h]), `0x${h.toString(16)} should unpack to NaN`);
      assert.equal(back[h] & 0x7c00, 0x7c00);
      assert.notEqual(back[h] & 0x3ff, 0);
      assert.equal(back[h] & 0x200, 0x200, 'quiet bit');
      assert.equal(back[h] & 0x8000, h & 0x8000, 'sign');
    } else {
      assert.equal(back[h], h, `0x${h.toString(16)}`);
      assert.equal(f[h], float16Value(h));
      assert.equal(float16Bits(f[h]), h);
    }
  }
  assert.equal(nans, 2046);
});

test('fp16: unpack matches an independent decode', () => {
  const src = new Uint16Array(0x7c00);
  for (let h = 0; h < 0x7c00; h++) src[h] = h;
  const f = new Float32Array(0x7c00);
  unpackFloat16(src, f);
  for (let h = 0; h < 0x7c00; h++) assert.equal(f[h], HALF_POS[h]);
  const neg = new Uint16Array([0x8000, 0xfc00, 0x7c00, 0x8001]);
  const g = new Float32Array(4);
  unpackFloat16(neg, g);
  assert.ok(Object.is(g[0], -0));
  assert.deepEqual([...g.subarray(1)], [-Infinity, Infinity, -(2 ** -24)]);
});

test('fp16: pack matches the slow reference on random and edge values', () => {
  const x = randomFloats(200000, 42);
  const out = new Uint16Array(x.length);
  packFloat16(x, out);
  for (let i = 0; i < x.length; i++) {
    assert.equal(out[i], refHalf(x[i]), `x=${x[i]} bits 0x${bitsOfFloat(x[i]).toString(16)}`);
    assert.equal(float16Bits(x[i]), out[i]);
  }
  const edges = [
    0, -0, 1, -1, 65504, 65519.99609375, 65520, 65536, 1e10, -1e10, Infinity, -Infinity,
    2 ** -14, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0000001, 3 * 2 ** -25, 2 ** -26, 1e-30,
    floatOfBits(0x387fffff), floatOfBits(0x38800000), floatOfBits(0x33000000), floatOfBits(0x33000001),
    floatOfBits(1), floatOfBits(0x7f7fffff), floatOfBits(0x477fefff), floatOfBits(0x477ff000),
    0.1, 1 / 3, 2049, 2051, 4097, 4099, 6.1e-5,
  ];
  const e = new Float32Array(edges);
  const eo = new Uint16Array(e.length);
  packFloat16(e, eo);
  for (let i = 0; i < e.length; i++) assert.equal(eo[i], refHalf(e[i]), `edge ${e[i]}`);
  assert.equal(eo[edges.indexOf(65504)], 0x7bff);
  assert.equal(eo[edges.indexOf(65520)], 0x7c00); // tie above max → Inf
  assert.equal(eo[edges.indexOf(65519.99609375)], 0x7bff);
  assert.equal(eo[1], 0x8000); // -0 keeps its sign
});

test('fp16: ties to even at normal, subnormal and rollover boundaries', () => {
  const cases: Array<[number, number]> = [
    [2049, 0x6800], // 2048 + 1 is halfway between 2048 (even) and 2050 → 2048
    [2051, 0x6802], // halfway between 2050 (odd m=1) and 2052 (even m=2) → 2052
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1+2^-10 → 1
    [1 + 3 * 2 ** -11, 0x3c02], // halfway 1+2^-10 (odd) and 1+2^-9 (even) → even
    [2 - 2 ** -11, 0x4000], // halfway between 2-2^-10 (odd m) and 2 → rolls over exponent
    [2 ** -25, 0x0000], // halfway between 0 and the smallest subnormal → 0
    [3 * 2 ** -25, 0x0002], // halfway between 1 and 2 subnormal units → 2
    [2 ** -14 - 2 ** -25, 0x0400], // halfway between max subnormal (odd) and min normal → normal
  ];
  const x = new Float32Array(cases.map((c) => c[0]));
  const out = new Uint16Array(x.length);
  packFloat16(x, out);
  for (let i = 0; i < cases.length; i++) {
    assert.equal(x[i], cases[i][0], 'case value must be a float32');
    assert.equal(out[i], cases[i][1], `${cases[i][0]} → 0x${out[i].toString(16)}`);
    assert.equal(float16Bits(cases[i][0]), cases[i][1]);
    // Negative mirror.
    assert.equal(float16Bits(-cases[i][0]), cases[i][1] | 0x8000);
  }
});

test('fp16: NaN stays a quiet NaN with its sign', () => {
  const x = new Float32Array([NaN, floatOfBits(0xffc00000), floatOfBits(0x7f800001), floatOfBits(0xff800001)]);
  const out = new Uint16Array(4);
  packFloat16(x, out);
  for (let i = 0; i < 4; i++) {
    assert.equal(out[i] & 0x7e00, 0x7e00, `quiet NaN at ${i}: 0x${out[i].toString(16)}`);
  }
  assert.equal(out[1] & 0x8000, 0x8000);
  assert.equal(out[3] & 0x8000, 0x8000);
  assert.equal(out[2] & 0x8000, 0);
  assert.equal(float16Bits(NaN), 0x7e00);
  assert.ok(Number.isNaN(float16Value(0x7e00)));
});

test('fp16: works on subarrays with byte offsets', () => {
  const big = randomFloats(101, 9);
  const x = big.subarray(1, 100);
  const a = new Uint16Array(101);
  const out = a.subarray(1, 100);
  packFloat16(x, out);
  for (let i = 0; i < x.length; i++) assert.equal(out[i], refHalf(x[i]));
  const back = new Float32Array(101).subarray(2, 101);
  unpackFloat16(out, back);
  for (let i = 0; i < x.length; i++) assert.equal(back[i], float16Value(out[i]));
});

test('float16Bits rounds directly from float64 and float16Value checks its argument', () => {
  // 1 + 2^-11 + 2^-40 is above the tie in float64 but fround() would land on the tie.
  const v = 1 + 2 ** -11 + 2 ** -40;
  assert.equal(float16Bits(v), 0x3c01);
  assert.equal(float16Value(0x3c00), 1);
  assert.equal(float16Value(0xc000), -2);
  assert.equal(float16Value(0x0001), 2 ** -24);
  assert.equal(float16Value(0x7c00), Infinity);
  throwsCode(() => float16Value(65536), 'KERNEL_BAD_ARGUMENT');
  throwsCode(() => float16Value(-1), 'KERNEL_BAD_ARGUMENT');
  throwsCode(() => float16Value(1.5), 'KERNEL_BAD_ARGUMENT');
});

// ---- bf16 --------------------------------------------------------------------------------

test('bf16: all 65536 patterns unpack then pack back exactly (NaNs stay NaN)', () => {
  const src = new Uint16Array(65536);
  for (let h = 0; h < 65536; h++) src[h] = h;
  const f = new Float32Array(65536);
  unpackBFloat16(src, f);
  const back = new Uint16Array(65536);
  packBFloat16(f, back);
  for (let h = 0; h < 65536; h++) {
    const isNaN = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
    assert.equal(bitsOfFloat(f[h]) >>> 16, isNaN ? bitsOfFloat(f[h]) >>> 16 : h);
    if (isNaN) {
      assert.ok(Number.isNaN(f[h]));
      assert.equal(back[h], h | 0x40, `0x${h.toString(16)}`);
    } else {
      assert.equal(back[h], h, `0x${h.toString(16)}`);
    }
  }
});

test('bf16: pack matches the reference; ties to even; overflow to Inf', () => {
  const x = randomFloats(200000, 7);
  const out = new Uint16Array(x.length);
  packBFloat16(x, out);
  for (let i = 0; i < x.length; i++) assert.equal(out[i], refBf16(x[i]), `x=${x[i]}`);
  const edges = new Float32Array([
    floatOfBits(0x3f808000), // tie, kept part even → down
    floatOfBits(0x3f818000), // tie, kept part odd → up
    floatOfBits(0x3f808001), // just above tie → up
    floatOfBits(0x7f7fffff), // max float → rounds up to Inf
    floatOfBits(0xff7fffff),
    floatOfBits(0x7f7f7fff), // stays finite
    -0,
    floatOfBits(0x00008000), // subnormal tie → 0
  ]);
  const eo = new Uint16Array(edges.length);
  packBFloat16(edges, eo);
  assert.deepEqual([...eo], [0x3f80, 0x3f82, 0x3f81, 0x7f80, 0xff80, 0x7f7f, 0x8000, 0x0000]);
  for (let i = 0; i < edges.length; i++) assert.equal(eo[i], refBf16(edges[i]));
});

test('length mismatches throw', () => {
  throwsCode(() => packFloat16(new Float32Array(3), new Uint16Array(2)), 'KERNEL_LENGTH_MISMATCH');
  throwsCode(() => unpackFloat16(new Uint16Array(3), new Float32Array(4)), 'KERNEL_LENGTH_MISMATCH');
  throwsCode(() => packBFloat16(new Float32Array(3), new Uint16Array(2)), 'KERNEL_LENGTH_MISMATCH');
  throwsCode(() => unpackBFloat16(new Uint16Array(3), new Float32Array(4)), 'KERNEL_LENGTH_MISMATCH');
});
