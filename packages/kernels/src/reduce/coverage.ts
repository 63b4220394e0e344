import { KernelError, expectFinite, expectLength } from '../errors.js';

/**
 * Coverage-masked averaging for sliced updates (HeteroFL, FedRolex): each element is the
 * weighted mean over exactly the updates that cover it, and keeps a fallback value where no
 * update does. Accumulate every update into (sum, weightSum), then call coverageAverage.
 * Accumulation happens in float32 buffers (one rounding per update per element), in the
 * order the caller accumulates.
 */

/**
 * Where `mask[j] !== 0` (everywhere when `mask` is omitted): sum[j] += weight·x[j] and
 * weightSum[j] += weight. Elements outside the mask are not read from `x`, so they may hold
 * anything. `sum`, `weightSum`, `x` and `mask` share one length; `weight` is finite.
 */
export function maskedAccumulate(
  sum: Float32Array,
  weightSum: Float32Array,
  x: Float32Array,
  weight: number,
  mask?: Uint8Array,
): void {
  const n = sum.length;
  expectLength('weightSum', weightSum.length, n);
  expectLength('x', x.length, n);
  expectFinite('weight', weight);
  if (mask === undefined) {
    for (let j = 0; j < n; j++) {
      sum[j] += weight * x[j];
      weightSum[j] += weight;
    }
    return;
  }
  expectLength('mask', mask.length, n);
  // A branch rather than a multiply by the mask: it keeps unmasked garbage (NaN, Inf) out
  // of the sum, predicts perfectly on the contiguous masks slices produce, and measured no
  // slower than the branch-free forms even on random masks.
  for (let j = 0; j < n; j++) {
    if (mask[j] !== 0) {
      sum[j] += weight * x[j];
      weightSum[j] += weight;
    }
  }
}

/**
 * Scatter-accumulate a sparse update: for each i, sum[indices[i]] += weight·values[i] and
 * weightSum[indices[i]] += weight. Repeated indices accumulate repeatedly. Every index is
 * checked against `sum.length` before anything is written (KERNEL_BAD_ARGUMENT); `values`
 * and `indices` share one length; `weight` is finite.
 */
export function indexedAccumulate(
  sum: Float32Array,
  weightSum: Float32Array,
  values: Float32Array,
  indices: Uint32Array,
  weight: number,
): void {
  const n = sum.length;
  expectLength('weightSum', weightSum.length, n);
  expectLength('indices', indices.length, values.length);
  expectFinite('weight', weight);
  const m = indices.length;
  let max = 0;
  for (let i = 0; i < m; i++) if (indices[i] > max) max = indices[i];
  if (m > 0 && max >= n) {
    let at = 0;
    while (indices[at] < n) at++;
    throw new KernelError('KERNEL_BAD_ARGUMENT', `indices[${at}] is ${indices[at]}, expected an integer in [0, ${n - 1}]`);
  }
  for (let i = 0; i < m; i++) {
    const j = indices[i];
    sum[j] += weight * values[i];
    weightSum[j] += weight;
  }
}

/**
 * out[j] ← weightSum[j] > 0 ? sum[j] / weightSum[j] : fallback[j]. All four buffers share
 * one length; `out` may be any of the inputs (typically `fallback`, the previous global
 * model, updated in place). Elements with a non-positive total weight keep the fallback.
 */
export function coverageAverage(sum: Float32Array, weightSum: Float32Array, fallback: Float32Array, out: Float32Array): void {
  const n = out.length;
  expectLength('sum', sum.length, n);
  expectLength('weightSum', weightSum.length, n);
  expectLength('fallback', fallback.length, n);
  for (let j = 0; j < n; j++) {
    const w = weightSum[j];
    out[j] = w > 0 ? sum[j] / w : fallback[j];
  }
}
