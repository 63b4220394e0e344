import { expectFinite, expectLength } from '../errors.js';

/**
 * Level-1 vector kernels. Reductions accumulate in four float64 lanes combined as
 * (l0 + l1) + (l2 + l3) at the end: independent add chains hide the add latency, and the
 * fixed lane assignment keeps results bit-reproducible.
 */

/** y ← y + a·x, element-wise, in place on `y`. `a` must be finite; `x` and `y` equal length. */
export function axpy(a: number, x: Float32Array, y: Float32Array): void {
  expectFinite('a', a);
  expectLength('y', y.length, x.length);
  const n = x.length;
  for (let i = 0; i < n; i++) y[i] += a * x[i];
}

/** out ← a·x, element-wise. `out` may be `x` (in-place scaling). `a` must be finite. */
export function scaleInto(x: Float32Array, a: number, out: Float32Array): void {
  expectFinite('a', a);
  expectLength('out', out.length, x.length);
  const n = x.length;
  for (let i = 0; i < n; i++) out[i] = a * x[i];
}

/** Σ x[i]·y[i], accumulated in float64. Returns 0 for empty inputs. */
export function dot(x: Float32Array, y: Float32Array): number {
  expectLength('y', y.length, x.length);
  const n = x.length;
  const n4 = n - (n & 3);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i < n4; i += 4) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
    s2 += x[i + 2] * y[i + 2];
    s3 += x[i + 3] * y[i + 3];
  }
  for (; i < n; i++) s0 += x[i] * y[i];
  return s0 + s1 + (s2 + s3);
}

/** Σ x[i]², accumulated in float64 (no overflow for any Float32Array that fits in memory). */
export function l2NormSquared(x: Float32Array): number {
  const n = x.length;
  const n4 = n - (n & 3);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i < n4; i += 4) {
    const a = x[i];
    const b = x[i + 1];
    const c = x[i + 2];
    const d = x[i + 3];
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (; i < n; i++) s0 += x[i] * x[i];
  return s0 + s1 + (s2 + s3);
}

/** ‖x‖₂ = √(Σ x[i]²), from {@link l2NormSquared}. */
export function l2Norm(x: Float32Array): number {
  return Math.sqrt(l2NormSquared(x));
}
