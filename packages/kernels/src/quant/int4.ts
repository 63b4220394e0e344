/**
 * Linear blockwise int4: int8's scheme (spec section 5, linear option) with 15 levels instead
 * of 255, two codes to a byte. Half int8's bytes buys a DiLoCo peer twice the outer steps for
 * the same traffic; error feedback carries what the coarser grid drops to the next round.
 */
import { KernelError, expectLength } from '../errors.js';
import { int8ScaleCount } from './int8.js';

/** Largest code: codes are symmetric in [-7, 7]; the nibble 0b1000 (-8) is never produced. */
export const INT4_MAX_CODE = 7;

/** Bytes holding `n` packed codes: element 2i in the low nibble of byte i, 2i+1 in the high one. */
export function int4PackedBytes(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new KernelError('KERNEL_BAD_ARGUMENT', `n is ${n}, expected a non-negative integer`);
  return (n + 1) >> 1;
}

/** Rounds half to even for |v| < 2^51 (see int8.ts). */
const RNE_MAGIC = 6755399441055744;

/**
 * Quantises `x` to int4 in blocks of `blockSize` (32..4096) elements.
 *
 * Per block: a = max|x|, `scales[b] = fround(a / 7)`, and the code of x[i] is
 * roundHalfEven(x[i] · (7 / a)) ∈ [-7, 7], stored as its two's-complement nibble. An all-zero
 * block stores scale 0 and codes 0; an odd `n` leaves the last high nibble 0. Dequantisation is
 * `code · scales[b]`. With `residual`, it receives x[i] − fround(code · scales[b]) (it may
 * alias `x`). Throws KERNEL_NON_FINITE naming the first NaN or ±Infinity.
 */
export function quantiseInt4(x: Float32Array, blockSize: number, packed: Uint8Array, scales: Float32Array, residual?: Float32Array): void {
  const n = x.length;
  const nBlocks = int8ScaleCount(n, blockSize);
  expectLength('packed', packed.length, int4PackedBytes(n));
  expectLength('scales', scales.length, nBlocks);
  if (residual !== undefined) expectLength('residual', residual.length, n);
  if ((n & 1) === 1) packed[n >> 1] = 0;
  for (let b = 0; b < nBlocks; b++) {
    const start = b * blockSize;
    const end = Math.min(start + blockSize, n);
    let a = 0;
    for (let i = start; i < end; i++) {
      const v = Math.abs(x[i]);
      // `!(v <= a)` is true for NaN too, so one comparison finds both a new max and a NaN.
      if (!(v <= a)) {
        if (!(v < Infinity)) throw new KernelError('KERNEL_NON_FINITE', `x[${i}] is ${x[i]}, expected a finite number`);
        a = v;
      }
    }
    const scale = Math.fround(a / INT4_MAX_CODE);
    scales[b] = scale;
    // |x| <= a, so |x · 7/a| exceeds 7 by ulps at most and rounds to a code in [-7, 7].
    const inv = a === 0 ? 0 : INT4_MAX_CODE / a;
    let i = start;
    // A block that starts and ends on a byte boundary (every block of an even size but the
    // last) writes whole bytes; a block edge inside a byte writes its nibble alone.
    if ((start & 1) === 1) i = quantiseNibble(x, i, inv, scale, packed, residual);
    const pairsEnd = i + ((end - i) & ~1);
    if (residual === undefined) {
      for (; i < pairsEnd; i += 2) {
        const q0 = x[i] * inv + RNE_MAGIC - RNE_MAGIC;
        const q1 = x[i + 1] * inv + RNE_MAGIC - RNE_MAGIC;
        packed[i >> 1] = (q0 & 0xf) | ((q1 & 0xf) << 4);
      }
    } else {
      for (; i < pairsEnd; i += 2) {
        const x0 = x[i];
        const x1 = x[i + 1];
        const q0 = x0 * inv + RNE_MAGIC - RNE_MAGIC;
        const q1 = x1 * inv + RNE_MAGIC - RNE_MAGIC;
        packed[i >> 1] = (q0 & 0xf) | ((q1 & 0xf) << 4);
        residual[i] = x0 - Math.fround(q0 * scale);
        residual[i + 1] = x1 - Math.fround(q1 * scale);
      }
    }
    if (i < end) quantiseNibble(x, i, inv, scale, packed, residual);
  }
}

/** Codes element `i` alone into its nibble, keeping the other; returns i + 1. */
function quantiseNibble(x: Float32Array, i: number, inv: number, scale: number, packed: Uint8Array, residual: Float32Array | undefined): number {
  const xi = x[i];
  const q = xi * inv + RNE_MAGIC - RNE_MAGIC;
  const shift = (i & 1) << 2;
  packed[i >> 1] = (packed[i >> 1] & ~(0xf << shift)) | ((q & 0xf) << shift);
  if (residual !== undefined) residual[i] = xi - Math.fround(q * scale);
  return i + 1;
}

function checkDequantArgs(packed: Uint8Array, scales: Float32Array, blockSize: number, out: Float32Array): number {
  const n = out.length;
  expectLength('packed', packed.length, int4PackedBytes(n));
  expectLength('scales', scales.length, int8ScaleCount(n, blockSize));
  return n;
}

/** The code of element `i`, sign-extended from its nibble. */
function codeAt(packed: Uint8Array, i: number): number {
  const nib = (packed[i >> 1] >> ((i & 1) << 2)) & 0xf;
  return (nib << 28) >> 28;
}

/**
 * Index of the first code outside the symmetric range (the nibble for -8), or of a non-zero
 * padding nibble after an odd `n` (reported as n); -1 when every code is valid. Decoders
 * call it on bytes from the network before `dequantiseInt4`.
 */
export function int4InvalidCode(packed: Uint8Array, n: number): number {
  for (let i = 0; i < n; i++) if (codeAt(packed, i) === -8) return i;
  if ((n & 1) === 1 && packed.length > n >> 1 && packed[n >> 1] >> 4 !== 0) return n;
  return -1;
}

/** out[i] = code[i] · scales[block of i]. */
export function dequantiseInt4(packed: Uint8Array, scales: Float32Array, blockSize: number, out: Float32Array): void {
  const n = checkDequantArgs(packed, scales, blockSize, out);
  for (let start = 0, b = 0; start < n; start += blockSize, b++) {
    const s = scales[b];
    const end = Math.min(start + blockSize, n);
    let i = start;
    if ((i & 1) === 1) out[i] = codeAt(packed, i++) * s;
    for (const pairsEnd = i + ((end - i) & ~1); i < pairsEnd; i += 2) {
      const byte = packed[i >> 1];
      // Sign-extends each nibble: shift it to the top of an int32, then back.
      out[i] = ((byte << 28) >> 28) * s;
      out[i + 1] = ((byte << 24) >> 28) * s;
    }
    if (i < end) out[i] = codeAt(packed, i) * s;
  }
}
