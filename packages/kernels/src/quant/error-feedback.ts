/**
 * Sign-based compressors used with error feedback (spec section 5): the EF-SGD scaled sign
 * and DeepSpeed's 1-bit compression. Callers keep the residual e and feed p = η·g + e in;
 * what the compressor drops is carried to the next step, so Σ c_t + e_T = Σ η·g_t.
 */
import { KernelError, expectLength } from '../errors.js';

function nonFinite(what: string, a: Float32Array): never {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      throw new KernelError('KERNEL_NON_FINITE', `${what}[${i}] is ${a[i]}, expected a finite number`);
    }
  }
  throw new KernelError('KERNEL_NON_FINITE', `${what} has a non-finite norm`);
}

/**
 * EF-SGD compressor C(p) = (‖p‖₁/d)·sign(p) with sign(0) = 0: writes `out[i] = ±scale`
 * (or 0 where p[i] = 0) and returns scale = fround(‖p‖₁/d) (0 for an empty vector; the L1
 * sum is taken in float64). `out` may alias `p`. The caller forms the residual e = p − out.
 * Throws KERNEL_LENGTH_MISMATCH unless `out.length = p.length`, KERNEL_NON_FINITE for a
 * non-finite element.
 */
export function scaledSign(p: Float32Array, out: Float32Array): number {
  const d = p.length;
  expectLength('out', out.length, d);
  let l1 = 0;
  for (let i = 0; i < d; i++) l1 += Math.abs(p[i]);
  if (!Number.isFinite(l1)) nonFinite('p', p);
  const scale = d === 0 ? 0 : Math.fround(l1 / d);
  const neg = -scale;
  for (let i = 0; i < d; i++) {
    const v = p[i];
    out[i] = v > 0 ? scale : v < 0 ? neg : 0;
  }
  return scale;
}

/** Length in bytes of the sign bitmap for `n` elements: ceil(n / 8). */
export function oneBitByteCount(n: number): number {
  if (!Number.isInteger(n) || n < 0) {
    throw new KernelError('KERNEL_BAD_ARGUMENT', `n is ${n}, expected a non-negative integer`);
  }
  return Math.ceil(n / 8);
}

/**
 * DeepSpeed 1-bit compression: scale = fround(‖z‖₂/√n) (float64 sum of squares),
 * c_i = scale·sgn(z_i) with sgn(z) = +1 for z ≥ 0 (including −0) and −1 otherwise.
 *
 * Bit layout: element i is bit (7 − i mod 8) of `bits[floor(i/8)]` (most significant bit
 * first, like numpy/cupy `packbits`), 1 meaning z_i ≥ 0; unused trailing bits are 0.
 * If `residual` is given it receives z − c (it may alias `z`, for an in-place error update).
 * Returns the scale (0 for n = 0). Throws KERNEL_LENGTH_MISMATCH for
 * `bits.length ≠ ceil(n/8)` or `residual.length ≠ n`, KERNEL_NON_FINITE for a non-finite z_i.
 */
export function oneBitCompress(z: Float32Array, bits: Uint8Array, residual?: Float32Array): number {
  const n = z.length;
  expectLength('bits', bits.length, oneBitByteCount(n));
  if (residual !== undefined) expectLength('residual', residual.length, n);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const v = z[i];
    ss += v * v;
  }
  if (!Number.isFinite(ss)) nonFinite('z', z);
  const scale = n === 0 ? 0 : Math.fround(Math.sqrt(ss) / Math.sqrt(n));
  // Bits are written before the residual overwrites z (they may share storage).
  const full = n & ~7;
  for (let i = 0; i < full; i += 8) {
    bits[i >> 3] =
      (z[i] >= 0 ? 0x80 : 0) |
      (z[i + 1] >= 0 ? 0x40 : 0) |
      (z[i + 2] >= 0 ? 0x20 : 0) |
      (z[i + 3] >= 0 ? 0x10 : 0) |
      (z[i + 4] >= 0 ? 0x08 : 0) |
      (z[i + 5] >= 0 ? 0x04 : 0) |
      (z[i + 6] >= 0 ? 0x02 : 0) |
      (z[i + 7] >= 0 ? 0x01 : 0);
  }
  if (full < n) {
    let byte = 0;
    for (let i = full; i < n; i++) if (z[i] >= 0) byte |= 0x80 >> (i - full);
    bits[full >> 3] = byte;
  }
  if (residual !== undefined) {
    const neg = -scale;
    for (let i = 0; i < n; i++) {
      const v = z[i];
      residual[i] = v - (v >= 0 ? scale : neg);
    }
  }
  return scale;
}

/**
 * Expands a 1-bit message: `out[i] = bit_i ? scale : −scale` for i < n, bit layout as in
 * {@link oneBitCompress}. Throws KERNEL_NON_FINITE for a non-finite scale,
 * KERNEL_BAD_ARGUMENT for a bad n, KERNEL_LENGTH_MISMATCH for `bits.length ≠ ceil(n/8)` or
 * `out.length ≠ n`.
 */
export function oneBitDecompress(bits: Uint8Array, scale: number, n: number, out: Float32Array): void {
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new KernelError('KERNEL_NON_FINITE', `scale is ${scale}, expected a finite number`);
  }
  expectLength('bits', bits.length, oneBitByteCount(n));
  expectLength('out', out.length, n);
  const neg = -scale;
  for (let i = 0; i < n; i++) {
    out[i] = (bits[i >> 3] << (i & 7)) & 0x80 ? scale : neg;
  }
}
