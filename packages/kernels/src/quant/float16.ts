/**
 * IEEE binary16 (fp16) and bfloat16 conversion for float32 buffers, working on the float
 * bit patterns with integer operations. Rounding is to nearest, ties to even; values too
 * large for the format become ±Infinity; NaN stays a (quiet) NaN with its sign; subnormals
 * are exact; ±0 keeps its sign.
 */
import { expectIntInRange, expectLength } from '../errors.js';

/** Adding then subtracting 1.5·2^52 rounds |v| < 2^51 to an integer, ties to even. */
const RNE_MAGIC = 6755399441055744;
const TWO_POW_24 = 16777216;

/** Int32 view over the same bytes as `a` (Float32Array offsets are always 4-aligned). */
function bitsOf(a: Float32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length);
}

/**
 * fp16 bits (without sign) outside the normal range: `a` is the float32 bit pattern with
 * the sign cleared, `v` the float value (used only below 2^-14).
 */
function halfMagnitudeSlow(a: number, v: number): number {
  if (a >= 0x47800000) {
    if (a > 0x7f800000) return 0x7e00 | ((a >> 13) & 0x3ff); // NaN: force quiet, keep payload top
    return 0x7c00; // ≥ 65536 or Infinity
  }
  // |v| < 2^-14: the result is |v|·2^24 rounded (this is exact in float64, and 1024
  // correctly becomes the smallest normal, 0x0400).
  const m = v < 0 ? -v : v;
  return (m * TWO_POW_24 + RNE_MAGIC - RNE_MAGIC) | 0;
}

/**
 * Converts float32 to fp16 bit patterns: `dst[i] = fp16bits(src[i])`, round to nearest
 * even. Layout: `dst.length = src.length` (KERNEL_LENGTH_MISMATCH otherwise).
 */
export function packFloat16(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  expectLength('dst', dst.length, n);
  const bits = bitsOf(src);
  for (let i = 0; i < n; i++) {
    const f = bits[i];
    const a = f & 0x7fffffff;
    // Normal range, computed unconditionally: rebias the exponent (127 → 15), then add
    // 0xfff plus the lowest kept mantissa bit so the carry out of bit 13 rounds half to
    // even; a carry into exponent 31 yields Infinity for 65520 ≤ |x| < 65536. One rarely
    // taken branch fixes the other ranges (measured faster than an if/else with two stores).
    let h = (a - 0x38000000 + 0xfff + ((a >> 13) & 1)) >> 13;
    if (a < 0x38800000 || a >= 0x47800000) h = halfMagnitudeSlow(a, src[i]);
    dst[i] = h | ((f >> 16) & 0x8000);
  }
}

let halfToFloatBits: Int32Array | undefined;

/** float32 bit pattern of fp16 bits `h` (NaN payloads kept, shifted into place). */
function halfBitsToFloatBits(h: number, scratch: Float32Array, scratchBits: Int32Array): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return sign | 0x7f800000 | (m << 13);
  if (e !== 0) return sign | ((e + 112) << 23) | (m << 13);
  if (m === 0) return sign;
  scratch[0] = m / TWO_POW_24; // subnormal half: exactly representable as a float32 normal
  return sign | scratchBits[0];
}

function getHalfTable(): Int32Array {
  if (halfToFloatBits !== undefined) return halfToFloatBits;
  const t = new Int32Array(65536);
  const scratch = new Float32Array(1);
  const scratchBits = new Int32Array(scratch.buffer);
  for (let h = 0; h < 65536; h++) t[h] = halfBitsToFloatBits(h, scratch, scratchBits);
  halfToFloatBits = t;
  return t;
}

/**
 * Converts fp16 bit patterns to float32 (exact): `dst[i] = value(src[i])`, via a
 * 65536-entry table built on first use; NaN bit patterns map to float32 NaNs with the same
 * sign and payload. Layout: `dst.length = src.length`.
 */
export function unpackFloat16(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  expectLength('dst', dst.length, n);
  const t = getHalfTable();
  // Writing bit patterns through an integer view keeps NaN payloads intact.
  const out = bitsOf(dst);
  for (let i = 0; i < n; i++) out[i] = t[src[i]];
}

/**
 * Converts float32 to bfloat16 bit patterns (the top 16 bits, rounded to nearest even;
 * overflow carries into ±Infinity; NaN is kept quiet with its sign).
 * Layout: `dst.length = src.length`.
 */
export function packBFloat16(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  expectLength('dst', dst.length, n);
  const bits = bitsOf(src);
  for (let i = 0; i < n; i++) {
    const f = bits[i];
    let h = (f + 0x7fff + ((f >>> 16) & 1)) >>> 16;
    if ((f & 0x7fffffff) > 0x7f800000) h = (f >>> 16) | 0x40; // rounding could turn NaN into Inf
    dst[i] = h;
  }
}

/**
 * Converts bfloat16 bit patterns to float32 (exact: the bits become the top half).
 * Layout: `dst.length = src.length`.
 */
export function unpackBFloat16(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  expectLength('dst', dst.length, n);
  const out = bitsOf(dst);
  for (let i = 0; i < n; i++) out[i] = src[i] << 16;
}

/**
 * fp16 bit pattern (0..65535) of the number `x`, rounded to nearest even directly from its
 * float64 value (so it can differ from packing fround(x) when that double-rounds).
 * NaN gives 0x7e00; |x| ≥ 65520 gives ±Infinity; −0 gives 0x8000.
 */
export function float16Bits(x: number): number {
  if (x !== x) return 0x7e00;
  const sign = x < 0 || (x === 0 && 1 / x < 0) ? 0x8000 : 0;
  const a = x < 0 ? -x : x;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 6.103515625e-5) {
    // Subnormal range (below 2^-14): units of 2^-24; exact scaling, then round.
    return sign | (a * TWO_POW_24 + RNE_MAGIC - RNE_MAGIC);
  }
  // Find e with 2^e <= a < 2^(e+1); log2 may be off by one near powers of two.
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = a * 2 ** (10 - e) + RNE_MAGIC - RNE_MAGIC; // in [1024, 2048]
  if (m === 2048) {
    m = 1024;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | (m - 1024);
}

/**
 * Value of the fp16 bit pattern `bits` (an integer in [0, 65535], KERNEL_BAD_ARGUMENT
 * otherwise) as a number; NaN patterns give NaN.
 */
export function float16Value(bits: number): number {
  expectIntInRange('bits', bits, 0, 65535);
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1024 + m) * 2 ** (e - 25);
}
