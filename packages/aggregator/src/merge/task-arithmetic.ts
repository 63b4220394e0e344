import type { ParamSet } from '@fednode/core';
import { BLOCK } from './average.js';
import { expectFiniteNumber, expectModels, expectSameLayout, resolveWeights } from './checks.js';

export interface TaskArithmeticOptions {
  /** Scale of the summed task vectors; mergekit's default is 1, the TIES README sweeps 0.1–1. */
  lambda?: number;
  /** One finite weight per model (any sign), default 1 each. */
  weights?: ArrayLike<number>;
}

/**
 * Task arithmetic (spec section 8): τᵢ = θᵢ − θ₀ and θ = θ₀ + λ·Σ wᵢ·τᵢ.
 *
 * The difference of two float32 values is exact in float64, so the task vectors are never
 * rounded; the sum runs in float64 in model order and each element is rounded once.
 *
 * @throws MergeError MERGE_ARGUMENT for no models, a non-finite λ or weights;
 *   MERGE_LAYOUT if a model is laid out unlike the base.
 */
export function taskArithmetic(base: ParamSet, models: readonly ParamSet[], opts: TaskArithmeticOptions = {}): ParamSet {
  expectModels(models);
  expectSameLayout(base, models[0], 'models[0]');
  const lambda = opts.lambda ?? 1;
  expectFiniteNumber('lambda', lambda);
  const w = resolveWeights(opts.weights, models.length, false);
  const out = base.zerosLike();
  addScaledDeltas(base.data, models.map((m) => m.data), w, lambda, out.data);
  return out;
}

/**
 * out ← base + λ·Σ wᵢ·(xsᵢ − base), element-wise in float64 with one rounding per element.
 * Shared with DARE, which passes its sparsified models' deltas the same way.
 */
export function addScaledDeltas(
  base: Float32Array,
  xs: readonly Float32Array[],
  w: Float64Array,
  lambda: number,
  out: Float32Array,
): void {
  const n = out.length;
  const acc = new Float64Array(Math.min(BLOCK, n));
  for (let s = 0; s < n; s += BLOCK) {
    const e = Math.min(s + BLOCK, n);
    const len = e - s;
    acc.fill(0, 0, len);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const wi = w[i];
      for (let k = 0; k < len; k++) acc[k] += wi * (x[s + k] - base[s + k]);
    }
    for (let k = 0; k < len; k++) out[s + k] = base[s + k] + lambda * acc[k];
  }
}
