import type { ParamSet } from '@fednode/core';
import { MergeError } from './errors.js';

/** Throws MERGE_ARGUMENT unless at least one model is given and all share `first`'s layout. */
export function expectModels(models: readonly ParamSet[], field = 'models'): void {
  if (!Array.isArray(models) || models.length === 0) {
    throw new MergeError('MERGE_ARGUMENT', 'expected at least one model', field);
  }
  for (let i = 1; i < models.length; i++) expectSameLayout(models[0], models[i], `${field}[${i}]`);
}

/** Throws MERGE_LAYOUT naming the first difference when `other` is not laid out like `ref`. */
export function expectSameLayout(ref: ParamSet, other: ParamSet, field: string): void {
  if (ref.sameLayout(other)) return;
  const a = ref.specs;
  const b = other.specs;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i].name !== b[i].name) {
      throw new MergeError('MERGE_LAYOUT', `layouts differ: tensor ${i} is "${b[i].name}", expected "${a[i].name}"`, field);
    }
    if (a[i].shape.join(',') !== b[i].shape.join(',')) {
      throw new MergeError(
        'MERGE_LAYOUT',
        `layouts differ: "${a[i].name}" has shape [${b[i].shape.join(', ')}], expected [${a[i].shape.join(', ')}]`,
        field,
      );
    }
  }
  throw new MergeError('MERGE_LAYOUT', `layouts differ: ${b.length} tensors, expected ${a.length}`, field);
}

/**
 * Per-model weights as float64: all 1 when absent; otherwise one finite value per model.
 * `nonNegative` (averaging) also requires every weight >= 0 and a positive sum, since a
 * weighted mean is undefined otherwise; task arithmetic accepts any finite weights.
 */
export function resolveWeights(
  weights: ArrayLike<number> | undefined,
  count: number,
  nonNegative: boolean,
  field = 'weights',
): Float64Array {
  const w = new Float64Array(count);
  if (weights === undefined) return w.fill(1);
  if (weights.length !== count) {
    throw new MergeError('MERGE_ARGUMENT', `has ${weights.length} entries, expected one per model (${count})`, field);
  }
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const x = weights[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new MergeError('MERGE_ARGUMENT', `weight ${i} is ${String(x)}, expected a finite number`, field);
    }
    if (nonNegative && x < 0) throw new MergeError('MERGE_ARGUMENT', `weight ${i} is ${x}, expected >= 0`, field);
    w[i] = x;
    sum += x;
  }
  if (nonNegative && !(sum > 0)) throw new MergeError('MERGE_ARGUMENT', 'weights sum to 0, expected a positive sum', field);
  return w;
}

/** Throws MERGE_ARGUMENT unless `x` is a finite number in [lo, hi] (or [lo, hi) when `openHi`). */
export function expectInRange(field: string, x: number, lo: number, hi: number, openHi = false): void {
  const ok = typeof x === 'number' && Number.isFinite(x) && x >= lo && (openHi ? x < hi : x <= hi);
  if (!ok) {
    throw new MergeError('MERGE_ARGUMENT', `is ${String(x)}, expected a number in [${lo}, ${hi}${openHi ? ')' : ']'}`, field);
  }
}

/** Throws MERGE_ARGUMENT unless `x` is a finite number. */
export function expectFiniteNumber(field: string, x: number): void {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new MergeError('MERGE_ARGUMENT', `is ${String(x)}, expected a finite number`, field);
  }
}
