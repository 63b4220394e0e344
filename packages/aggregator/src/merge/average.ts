import type { ParamSet } from '@fednode/core';
import { expectModels, resolveWeights } from './checks.js';

/**
 * Elements per block of the float64 accumulator: 32 K doubles (256 KiB) stay in L2 while
 * each model's block streams through once.
 */
export const BLOCK = 32768;

/**
 * Weighted average of whole models: Σ wᵢ·θᵢ / Σ wᵢ (spec section 8), weights default to 1.
 *
 * Sums run in float64 in model order and each output element is rounded to float32 once, so
 * the result is deterministic and averaging identical models returns the model bit for bit.
 * NaN or Infinity in a model propagates to the same positions of the result.
 *
 * @throws MergeError MERGE_ARGUMENT for no models, or weights that are not finite, negative,
 *   or sum to 0 (or not one per model); MERGE_LAYOUT if the models' layouts differ.
 */
export function mergeAverage(models: readonly ParamSet[], weights?: ArrayLike<number>): ParamSet {
  expectModels(models);
  const w = resolveWeights(weights, models.length, true);
  let total = 0;
  for (let i = 0; i < w.length; i++) total += w[i];
  const out = models[0].zerosLike();
  const dst = out.data;
  const xs = models.map((m) => m.data);
  const acc = new Float64Array(Math.min(BLOCK, dst.length));
  for (let s = 0; s < dst.length; s += BLOCK) {
    const e = Math.min(s + BLOCK, dst.length);
    const len = e - s;
    const x0 = xs[0];
    const w0 = w[0];
    for (let k = 0; k < len; k++) acc[k] = w0 * x0[s + k];
    for (let i = 1; i < xs.length; i++) {
      const x = xs[i];
      const wi = w[i];
      for (let k = 0; k < len; k++) acc[k] += wi * x[s + k];
    }
    for (let k = 0; k < len; k++) dst[s + k] = acc[k] / total;
  }
  return out;
}
