import type { ParamSet } from '@fednode/core';
import { dot, l2Norm } from '@fednode/kernels';
import { expectInRange, expectSameLayout } from './checks.js';
import { MergeError } from './errors.js';

/** Above this |cos θ| the vectors are treated as colinear and interpolated linearly (mergekit). */
export const SLERP_DOT_THRESHOLD = 0.9995;

/**
 * Spherical linear interpolation of two models, tensor by tensor (spec section 8): the angle
 * θ₀ = acos(â·b̂) comes from normalised copies, and the output interpolates the *unnormalised*
 * tensors, out = [sin((1−t)θ₀)·a + sin(tθ₀)·b] / sin θ₀. Where |â·b̂| > 0.9995, or either
 * tensor is all zeros (no direction), it falls back to lerp (1−t)·a + t·b. t = 0 gives a, t = 1 b.
 *
 * @throws MergeError MERGE_ARGUMENT for t outside [0, 1]; MERGE_LAYOUT if the layouts differ;
 *   MERGE_NON_FINITE if a tensor's norm is not finite.
 */
export function slerp(a: ParamSet, b: ParamSet, t: number): ParamSet {
  expectSameLayout(a, b, 'b');
  expectInRange('t', t, 0, 1);
  const out = a.zerosLike();
  for (const spec of a.specs) {
    slerpInto(a.tensor(spec.name), b.tensor(spec.name), t, out.tensor(spec.name), spec.name);
  }
  return out;
}

/** SLERP of two equal-length vectors into `out` (which may be either input). */
export function slerpVectors(a: Float32Array, b: Float32Array, t: number, out = new Float32Array(a.length)): Float32Array {
  if (b.length !== a.length) throw new MergeError('MERGE_LAYOUT', `has ${b.length} entries, expected ${a.length}`, 'b');
  if (out.length !== a.length) throw new MergeError('MERGE_ARGUMENT', `has ${out.length} entries, expected ${a.length}`, 'out');
  expectInRange('t', t, 0, 1);
  slerpInto(a, b, t, out, 'the vectors');
  return out;
}

function slerpInto(a: Float32Array, b: Float32Array, t: number, out: Float32Array, where: string): void {
  const na = l2Norm(a);
  const nb = l2Norm(b);
  if (!Number.isFinite(na) || !Number.isFinite(nb)) {
    throw new MergeError('MERGE_NON_FINITE', `the norm of ${where} is not finite`, where === 'the vectors' ? undefined : where);
  }
  let s0 = 1 - t;
  let s1 = t;
  if (na > 0 && nb > 0) {
    // Clamped: rounding can push the cosine of (anti)parallel vectors just past ±1.
    const cos = Math.max(-1, Math.min(1, dot(a, b) / (na * nb)));
    if (Math.abs(cos) <= SLERP_DOT_THRESHOLD) {
      const theta = Math.acos(cos);
      const sin = Math.sin(theta);
      s0 = Math.sin((1 - t) * theta) / sin;
      s1 = Math.sin(t * theta) / sin;
    }
  }
  for (let j = 0; j < a.length; j++) out[j] = s0 * a[j] + s1 * b[j];
}
