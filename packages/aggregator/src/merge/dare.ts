import type { ParamSet } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import { expectFiniteNumber, expectInRange, expectModels, expectSameLayout, resolveWeights } from './checks.js';
import { MergeError } from './errors.js';

/**
 * How DARE rescales the entries it keeps: 'inverse' multiplies them by 1/(1−p) so the
 * expectation is unchanged (MergeLM, the paper); 'l1' scales them so the sparsified vector
 * has the L1 norm of the original (mergekit's rescale_norm), per tensor in {@link dare}.
 */
export type DareRescale = 'inverse' | 'l1';

export interface DareOptions {
  /** Drop probability in [0, 1); 0.9 is typical. */
  p: number;
  /** Seed of the drop masks; model i draws from `Rng.derive(seed, i)`. */
  seed: number;
  rescale?: DareRescale;
  /** Task-arithmetic scale of the summed sparsified task vectors, default 1. */
  lambda?: number;
  /** Task-arithmetic weight per model, default 1 (pass 1/N to average the task vectors). */
  weights?: ArrayLike<number>;
}

/**
 * DARE (spec section 8): each task vector τᵢ = θᵢ − θ₀ drops every entry with probability p
 * and rescales the rest, then the sparsified τ̃ᵢ are combined by task arithmetic,
 * θ = θ₀ + λ·Σ wᵢ·τ̃ᵢ, as MergeLM and mergekit's dare_linear do (DARE is a pre-processing
 * step for another merge). To average them instead, pass weights of 1/N.
 *
 * Model i's mask comes from `Rng.derive(seed, i)`, one uniform draw per element in order,
 * so a model's mask depends only on the seed, its index and its size. τ̃ᵢ is held in float32
 * (as {@link dareSparsify} writes it); the sum runs in float64, rounded once per element.
 *
 * @throws MergeError MERGE_ARGUMENT for no models, p outside [0, 1), a bad seed, rescale,
 *   λ or weights; MERGE_LAYOUT if a model is laid out unlike the base.
 */
export function dare(base: ParamSet, models: readonly ParamSet[], opts: DareOptions): ParamSet {
  expectModels(models);
  expectSameLayout(base, models[0], 'models[0]');
  const { p, seed } = opts;
  expectInRange('p', p, 0, 1, true);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new MergeError('MERGE_ARGUMENT', `is ${String(seed)}, expected an integer in [0, 2^32 - 1]`, 'seed');
  }
  const rescale = resolveRescale(opts.rescale);
  const lambda = opts.lambda ?? 1;
  expectFiniteNumber('lambda', lambda);
  const w = resolveWeights(opts.weights, models.length, false);
  const b = base.data;
  const n = b.length;
  const acc = new Float64Array(n);
  const delta = new Float32Array(n);
  models.forEach((m, i) => {
    const x = m.data;
    for (let j = 0; j < n; j++) delta[j] = x[j] - b[j];
    const rng = Rng.derive(seed, i);
    // Tensor by tensor, in layout order: the draws run in element order either way, and the
    // L1 rescale is per tensor as in mergekit.
    for (const spec of base.specs) {
      const s = base.offsetOf(spec.name);
      const seg = delta.subarray(s, s + base.tensor(spec.name).length);
      dareSparsify(seg, p, rng, seg, rescale);
    }
    const wi = w[i];
    for (let j = 0; j < n; j++) acc[j] += wi * delta[j];
  });
  const out = base.zerosLike();
  const o = out.data;
  for (let j = 0; j < n; j++) o[j] = b[j] + lambda * acc[j];
  return out;
}

/**
 * One DARE sparsification: entry j is dropped when `rng.uniform() < p` (one draw per entry,
 * in order), the rest are rescaled. `out` may be `delta`. Returns `out`.
 */
export function dareSparsify(
  delta: Float32Array,
  p: number,
  rng: Rng,
  out: Float32Array,
  rescale: DareRescale = 'inverse',
): Float32Array {
  expectInRange('p', p, 0, 1, true);
  expectSameLength(delta, out);
  const mode = resolveRescale(rescale);
  const keep = new Uint8Array(delta.length);
  for (let j = 0; j < keep.length; j++) keep[j] = rng.uniform() < p ? 0 : 1;
  return applyMask(delta, keep, p, out, mode);
}

/**
 * DARE with an explicit keep mask (non-zero = keep), for tests and for callers that draw
 * their own masks: out = delta·keep rescaled by 1/(1−p), or to delta's L1 norm for 'l1'.
 * `out` may be `delta`. Returns `out`.
 */
export function dareSparsifyWithMask(
  delta: Float32Array,
  keep: ArrayLike<number>,
  p: number,
  out: Float32Array,
  rescale: DareRescale = 'inverse',
): Float32Array {
  expectInRange('p', p, 0, 1, true);
  expectSameLength(delta, out);
  if (keep.length !== delta.length) {
    throw new MergeError('MERGE_ARGUMENT', `has ${keep.length} entries, expected ${delta.length}`, 'keep');
  }
  return applyMask(delta, keep, p, out, resolveRescale(rescale));
}

function applyMask(
  delta: Float32Array,
  keep: ArrayLike<number>,
  p: number,
  out: Float32Array,
  rescale: DareRescale,
): Float32Array {
  const n = delta.length;
  let scale = 1 / (1 - p);
  if (rescale === 'l1') {
    let before = 0;
    let after = 0;
    for (let j = 0; j < n; j++) {
      const a = Math.abs(delta[j]);
      before += a;
      if (keep[j] !== 0) after += a;
    }
    // Nothing kept (or nothing to keep): the result is all zeros whatever the scale.
    scale = after > 0 ? before / after : 1;
  }
  for (let j = 0; j < n; j++) out[j] = keep[j] !== 0 ? delta[j] * scale : 0;
  return out;
}

function resolveRescale(rescale: DareRescale | undefined): DareRescale {
  const r = rescale ?? 'inverse';
  if (r !== 'inverse' && r !== 'l1') {
    throw new MergeError('MERGE_ARGUMENT', `is ${String(r)}, expected 'inverse' or 'l1'`, 'rescale');
  }
  return r;
}

function expectSameLength(delta: Float32Array, out: Float32Array): void {
  if (out.length !== delta.length) {
    throw new MergeError('MERGE_ARGUMENT', `has ${out.length} entries, expected ${delta.length}`, 'out');
  }
}
