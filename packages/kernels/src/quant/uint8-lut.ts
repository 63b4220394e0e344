/**
 * INTELLECT-1's uint8 quantiser (spec section 3): a uniform grid of 256 bins spanning ±3σ,
 * where each bin decodes to the mean of the values that fell into it, carried as a 256-entry
 * float32 lookup table next to the n bytes.
 */
import { KernelError, expectLength } from '../errors.js';

/** Number of bins and entries in the lookup table. */
export const UINT8_LUT_SIZE = 256;

// Per-bin sums and counts, reused across calls (the kernels are synchronous).
const binSum = new Float64Array(UINT8_LUT_SIZE);
const binCount = new Float64Array(UINT8_LUT_SIZE);

/**
 * Quantises `x` to one byte per element plus a 256-entry lookup table.
 *
 * σ = ‖x‖₂/√(n−1) (no mean-centring; the sum of squares is taken in float64), the bin width
 * s = fround(6σ/256), `q[i] = clamp(roundHalfAwayFromZero(x[i]/s) + 128, 0, 255)` and
 * `lut[b]` = the mean (float64 sum, stored as float32) of the x[i] with q[i] = b, or 0 for an
 * empty bin. If n = 1 or σ = 0, every q[i] = 128 and the table is all zeros (n = 0 just zeroes
 * the table). Decode with {@link dequantiseUint8Lut}.
 *
 * Layout: `q.length = n`, `lut.length = 256`. Throws KERNEL_LENGTH_MISMATCH for wrong
 * lengths and KERNEL_NON_FINITE naming the first non-finite element of `x`.
 */
export function quantiseUint8Lut(x: Float32Array, q: Uint8Array, lut: Float32Array): void {
  const n = x.length;
  expectLength('q', q.length, n);
  expectLength('lut', lut.length, UINT8_LUT_SIZE);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    ss += v * v;
  }
  if (!Number.isFinite(ss)) {
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(x[i])) {
        throw new KernelError('KERNEL_NON_FINITE', `x[${i}] is ${x[i]}, expected a finite number`);
      }
    }
  }
  lut.fill(0);
  if (n <= 1 || ss === 0) {
    q.fill(128);
    return;
  }
  const sigma = Math.sqrt(ss) / Math.sqrt(n - 1);
  const s = Math.fround((6 * sigma) / 256);
  if (s === 0) {
    // σ so small that the bin width underflows float32: treat as σ = 0.
    q.fill(128);
    return;
  }
  binSum.fill(0);
  binCount.fill(0);
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const t = v / s;
    // Half away from zero. Math.round rounds halves up, which is "away" only for t >= 0,
    // and (unlike floor(t + 0.5)) it is exact for t just below one half.
    let r = t < 0 ? -Math.round(-t) : Math.round(t);
    r += 128;
    const b = r < 0 ? 0 : r > 255 ? 255 : r;
    q[i] = b;
    binSum[b] += v;
    binCount[b] += 1;
  }
  for (let b = 0; b < UINT8_LUT_SIZE; b++) {
    const c = binCount[b];
    if (c > 0) lut[b] = binSum[b] / c;
  }
}

/**
 * Decodes {@link quantiseUint8Lut}: `out[i] = lut[q[i]]`. `out.length` must equal
 * `q.length` and `lut.length` 256 (KERNEL_LENGTH_MISMATCH); a non-finite table entry
 * throws KERNEL_NON_FINITE.
 */
export function dequantiseUint8Lut(q: Uint8Array, lut: Float32Array, out: Float32Array): void {
  expectLength('lut', lut.length, UINT8_LUT_SIZE);
  expectLength('out', out.length, q.length);
  for (let b = 0; b < UINT8_LUT_SIZE; b++) {
    if (!Number.isFinite(lut[b])) {
      throw new KernelError('KERNEL_NON_FINITE', `lut[${b}] is ${lut[b]}, expected a finite number`);
    }
  }
  const n = q.length;
  for (let i = 0; i < n; i++) out[i] = lut[q[i]];
}
