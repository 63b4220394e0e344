/**
 * Linear blockwise int8 quantisation (spec section 5, "linear option"): each block of
 * `blockSize` consecutive elements is scaled by its own absmax so one outlier only costs
 * precision inside its block.
 */
import { KernelError, expectLength } from '../errors.js';

/** Block size used by fednode's int8 codec unless configured otherwise. */
export const INT8_DEFAULT_BLOCK = 256;

/** Smallest and largest accepted block sizes. */
export const INT8_MIN_BLOCK = 32;
export const INT8_MAX_BLOCK = 4096;

/**
 * Adding and subtracting 1.5 * 2^52 in float64 rounds any |v| < 2^51 to the nearest
 * integer with ties to even (the FPU's default mode), without a branch or a call.
 */
const RNE_MAGIC = 6755399441055744;

function checkBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < INT8_MIN_BLOCK || blockSize > INT8_MAX_BLOCK) {
    throw new KernelError(
      'KERNEL_BLOCK_SIZE',
      `blockSize is ${blockSize}, expected an integer in [${INT8_MIN_BLOCK}, ${INT8_MAX_BLOCK}]`,
    );
  }
}

/**
 * Number of per-block scales for `n` elements: ceil(n / blockSize) (the last block may be
 * partial). Throws KERNEL_BLOCK_SIZE for a block size outside [32, 4096] and
 * KERNEL_BAD_ARGUMENT for a negative or fractional `n`.
 */
export function int8ScaleCount(n: number, blockSize: number): number {
  checkBlockSize(blockSize);
  if (!Number.isInteger(n) || n < 0) {
    throw new KernelError('KERNEL_BAD_ARGUMENT', `n is ${n}, expected a non-negative integer`);
  }
  return Math.ceil(n / blockSize);
}

function nonFiniteAt(x: Float32Array, start: number, end: number): never {
  for (let i = start; i < end; i++) {
    if (!Number.isFinite(x[i])) {
      throw new KernelError('KERNEL_NON_FINITE', `x[${i}] is ${x[i]}, expected a finite number`);
    }
  }
  // Unreachable when called after a block's absmax came out non-finite.
  throw new KernelError('KERNEL_NON_FINITE', `x has a non-finite value in [${start}, ${end})`);
}

/**
 * Quantises `x` to int8 in blocks of `blockSize` elements.
 *
 * Per block b (elements [b·B, min((b+1)·B, n))): a = max|x|, the stored scale is
 * `scales[b] = fround(a / 127)`, and `q[i] = roundHalfEven(x[i] · 127 / a)` ∈ [-127, 127]
 * (the ratio is evaluated as x[i] · (127 / a) in float64). An all-zero block stores scale 0
 * and q = 0. Dequantisation is `q[i] · scales[b]`.
 *
 * If `residual` is given it receives the error-feedback residual
 * `residual[i] = x[i] − fround(q[i] · scales[b])`, i.e. what the receiver will miss; it may
 * alias `x` (the residual overwrites the input in place).
 *
 * Layout: `q.length = n`, `scales.length = int8ScaleCount(n, blockSize)`,
 * `residual.length = n`. Throws KERNEL_BLOCK_SIZE for blockSize outside [32, 4096],
 * KERNEL_LENGTH_MISMATCH for wrong buffer lengths and KERNEL_NON_FINITE (naming the element
 * index) for NaN or ±Infinity in `x`; blocks before the offending one are already written.
 */
export function quantiseInt8(
  x: Float32Array,
  blockSize: number,
  q: Int8Array,
  scales: Float32Array,
  residual?: Float32Array,
): void {
  const n = x.length;
  const nBlocks = int8ScaleCount(n, blockSize);
  expectLength('q', q.length, n);
  expectLength('scales', scales.length, nBlocks);
  if (residual !== undefined) {
    expectLength('residual', residual.length, n);
    quantiseWithResidual(x, blockSize, q, scales, residual, nBlocks);
  } else {
    quantisePlain(x, blockSize, q, scales, nBlocks);
  }
}

/**
 * Absmax of bits[start, end) where `bits` views the float32 input as int32. For finite
 * floats the order of (bits & 0x7fffffff) is the order of |x|, so an integer max finds the
 * absmax without int-to-float conversions, and NaN/±Inf (exponent all ones) show up as a
 * result >= 0x7f800000, so one test per block detects them.
 */
function blockAbsMaxBits(bits: Int32Array, start: number, end: number): number {
  // Four independent maxima break the loop-carried dependency on one accumulator; integer
  // Math.max compiles to a branch-free select, which measured faster than if-updates.
  let m0 = 0;
  let m1 = 0;
  let m2 = 0;
  let m3 = 0;
  let i = start;
  for (const e4 = end - 3; i < e4; i += 4) {
    m0 = Math.max(m0, bits[i] & 0x7fffffff);
    m1 = Math.max(m1, bits[i + 1] & 0x7fffffff);
    m2 = Math.max(m2, bits[i + 2] & 0x7fffffff);
    m3 = Math.max(m3, bits[i + 3] & 0x7fffffff);
  }
  for (; i < end; i++) m0 = Math.max(m0, bits[i] & 0x7fffffff);
  return Math.max(m0, m1, m2, m3);
}

const NON_FINITE_BITS = 0x7f800000;

/** Float value of non-negative float32 bit pattern `b` (via a one-element scratch). */
const scratchBits = new Int32Array(1);
const scratchFloat = new Float32Array(scratchBits.buffer);
function floatOfBits(b: number): number {
  scratchBits[0] = b;
  return scratchFloat[0];
}

/**
 * Without a residual the kernel is software-pipelined: while block b is quantised, the same
 * loop takes the absmax of block b+1, which shares one loop's index and bounds-check
 * overhead between the two passes (about 10% faster than two loops per block).
 */
function quantisePlain(x: Float32Array, blockSize: number, q: Int8Array, scales: Float32Array, nBlocks: number): void {
  const n = x.length;
  if (n === 0) return;
  const bits = new Int32Array(x.buffer, x.byteOffset, n);
  let mb = blockAbsMaxBits(bits, 0, blockSize < n ? blockSize : n);
  for (let b = 0; b < nBlocks; b++) {
    const start = b * blockSize;
    const end = start + blockSize < n ? start + blockSize : n;
    if (mb >= NON_FINITE_BITS) nonFiniteAt(x, start, end);
    const a = floatOfBits(mb);
    scales[b] = a / 127;
    // An all-zero block has a = 0: inv = 0 maps its ±0 elements to q = 0.
    const inv = mb === 0 ? 0 : 127 / a;
    const nextEnd = end + blockSize < n ? end + blockSize : n;
    let i = start;
    if (nextEnd - end === blockSize) {
      let m0 = 0;
      let m1 = 0;
      let m2 = 0;
      let m3 = 0;
      // Unrolled by eight (measured ~10% faster than four).
      for (const e8 = end - 7; i < e8; i += 8) {
        const j = i + blockSize;
        m0 = Math.max(m0, bits[j] & 0x7fffffff, bits[j + 4] & 0x7fffffff);
        m1 = Math.max(m1, bits[j + 1] & 0x7fffffff, bits[j + 5] & 0x7fffffff);
        m2 = Math.max(m2, bits[j + 2] & 0x7fffffff, bits[j + 6] & 0x7fffffff);
        m3 = Math.max(m3, bits[j + 3] & 0x7fffffff, bits[j + 7] & 0x7fffffff);
        q[i] = x[i] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 1] = x[i + 1] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 2] = x[i + 2] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 3] = x[i + 3] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 4] = x[i + 4] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 5] = x[i + 5] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 6] = x[i + 6] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 7] = x[i + 7] * inv + RNE_MAGIC - RNE_MAGIC;
      }
      for (; i < end; i++) {
        m0 = Math.max(m0, bits[i + blockSize] & 0x7fffffff);
        q[i] = x[i] * inv + RNE_MAGIC - RNE_MAGIC;
      }
      mb = Math.max(m0, m1, m2, m3);
    } else {
      // Last block, or the one before a partial last block.
      for (const e4 = end - 3; i < e4; i += 4) {
        q[i] = x[i] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 1] = x[i + 1] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 2] = x[i + 2] * inv + RNE_MAGIC - RNE_MAGIC;
        q[i + 3] = x[i + 3] * inv + RNE_MAGIC - RNE_MAGIC;
      }
      for (; i < end; i++) q[i] = x[i] * inv + RNE_MAGIC - RNE_MAGIC;
      if (end < n) mb = blockAbsMaxBits(bits, end, nextEnd);
    }
  }
}

function quantiseWithResidual(
  x: Float32Array,
  blockSize: number,
  q: Int8Array,
  scales: Float32Array,
  residual: Float32Array,
  nBlocks: number,
): void {
  const n = x.length;
  const bits = new Int32Array(x.buffer, x.byteOffset, n);
  for (let b = 0; b < nBlocks; b++) {
    const start = b * blockSize;
    const end = start + blockSize < n ? start + blockSize : n;
    const mb = blockAbsMaxBits(bits, start, end);
    if (mb >= NON_FINITE_BITS) nonFiniteAt(x, start, end);
    if (mb === 0) {
      scales[b] = 0;
      q.fill(0, start, end);
      // x is all ±0 here, so the residual is x itself (keeps -0 as -0).
      for (let i = start; i < end; i++) residual[i] = x[i];
      continue;
    }
    const a = floatOfBits(mb);
    const s = Math.fround(a / 127);
    scales[b] = s;
    const inv = 127 / a;
    for (let i = start; i < end; i++) {
      const v = x[i];
      const r = v * inv + RNE_MAGIC - RNE_MAGIC;
      q[i] = r;
      residual[i] = v - Math.fround(r * s);
    }
  }
}

function checkDequantArgs(q: Int8Array, scales: Float32Array, blockSize: number, out: Float32Array): number {
  const n = q.length;
  const nBlocks = int8ScaleCount(n, blockSize);
  expectLength('scales', scales.length, nBlocks);
  expectLength('out', out.length, n);
  for (let b = 0; b < nBlocks; b++) {
    if (!Number.isFinite(scales[b])) {
      throw new KernelError('KERNEL_NON_FINITE', `scales[${b}] is ${scales[b]}, expected a finite number`);
    }
  }
  return nBlocks;
}

/**
 * Dequantises blockwise int8: `out[i] = fround(q[i] · scales[floor(i / blockSize)])`.
 * Layouts as in {@link quantiseInt8}. Throws KERNEL_NON_FINITE for a non-finite scale,
 * KERNEL_BLOCK_SIZE / KERNEL_LENGTH_MISMATCH for bad sizes.
 */
export function dequantiseInt8(q: Int8Array, scales: Float32Array, blockSize: number, out: Float32Array): void {
  const nBlocks = checkDequantArgs(q, scales, blockSize, out);
  const n = q.length;
  for (let b = 0; b < nBlocks; b++) {
    const start = b * blockSize;
    const end = start + blockSize < n ? start + blockSize : n;
    const s = scales[b];
    let i = start;
    // Unrolled by eight: V8 keeps one loop test per group.
    for (const e8 = end - 7; i < e8; i += 8) {
      out[i] = q[i] * s;
      out[i + 1] = q[i + 1] * s;
      out[i + 2] = q[i + 2] * s;
      out[i + 3] = q[i + 3] * s;
      out[i + 4] = q[i + 4] * s;
      out[i + 5] = q[i + 5] * s;
      out[i + 6] = q[i + 6] * s;
      out[i + 7] = q[i + 7] * s;
    }
    for (; i < end; i++) out[i] = q[i] * s;
  }
}

/**
 * Accumulating dequantisation for aggregation without a temporary buffer:
 * `out[i] += weight · q[i] · scales[floor(i / blockSize)]` (evaluated in float64 as
 * out[i] + (weight · scale) · q[i], then rounded to float32). `weight` must be finite
 * (KERNEL_NON_FINITE otherwise); other checks as in {@link dequantiseInt8}.
 */
export function dequantiseInt8Accumulate(
  q: Int8Array,
  scales: Float32Array,
  blockSize: number,
  weight: number,
  out: Float32Array,
): void {
  if (typeof weight !== 'number' || !Number.isFinite(weight)) {
    throw new KernelError('KERNEL_NON_FINITE', `weight is ${weight}, expected a finite number`);
  }
  const nBlocks = checkDequantArgs(q, scales, blockSize, out);
  const n = q.length;
  for (let b = 0; b < nBlocks; b++) {
    const start = b * blockSize;
    const end = start + blockSize < n ? start + blockSize : n;
    const ws = weight * scales[b];
    let i = start;
    for (const e4 = end - 3; i < e4; i += 4) {
      out[i] += q[i] * ws;
      out[i + 1] += q[i + 1] * ws;
      out[i + 2] += q[i + 2] * ws;
      out[i + 3] += q[i + 3] * ws;
    }
    for (; i < end; i++) out[i] += q[i] * ws;
  }
}
