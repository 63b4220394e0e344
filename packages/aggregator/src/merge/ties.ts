import type { ParamSet } from '@fednode/core';
import { expectFiniteNumber, expectInRange, expectModels, expectSameLayout } from './checks.js';
import { MergeError } from './errors.js';
import { keepBit, topkThreshold } from './select.js';

/**
 * Where TIES ranks magnitudes: per tensor (mergekit) or over the whole flattened model (the
 * official ties-merging code). The zero-sign majority of the election uses the same scope.
 */
export type TiesScope = 'tensor' | 'model';

export interface TiesOptions {
  /** Fraction K of each task vector kept by magnitude, in [0, 1]; the paper's default 0.2. */
  density?: number;
  /** Scale of the merged task vector; default 1 (the README sweeps 0.8–2.5). */
  lambda?: number;
  /** Ranking scope, default 'tensor'. */
  scope?: TiesScope;
}

/**
 * TIES-merging (spec section 8): τᵢ = θᵢ − θ₀, then
 * 1. trim: keep the exact top-⌊K·d⌋ entries of each τᵢ by magnitude per scope (d entries),
 *    ties broken by the lower index (the official code's "≥ k-th value" keeps extra ties);
 * 2. elect: γ = sign(Σᵢ τ̂ᵢ), and where γ = 0 the sign of Σⱼ γⱼ over the scope;
 * 3. disjoint mean: τ_m[j] = mean of the non-zero τ̂ᵢⱼ whose sign is γⱼ, else 0;
 * 4. θ = θ₀ + λ·τ_m.
 *
 * Magnitudes are ranked as float32 (|fround(θᵢ − θ₀)|); the sums and means use the exact
 * float64 differences, and each output element is rounded once. So with density 1 and one
 * model the result equals {@link taskArithmetic}'s bit for bit. Working memory: one float32
 * per model and 20 bytes per element of the largest scope (tensor, or the whole model).
 *
 * @throws MergeError MERGE_ARGUMENT for no models or options out of range; MERGE_LAYOUT if a
 *   model is laid out unlike the base; MERGE_NON_FINITE if a task vector holds NaN or ±Infinity.
 */
export function ties(base: ParamSet, models: readonly ParamSet[], opts: TiesOptions = {}): ParamSet {
  expectModels(models);
  expectSameLayout(base, models[0], 'models[0]');
  const { density, lambda } = tiesArgs(opts);
  const scope = opts.scope ?? 'tensor';
  if (scope !== 'tensor' && scope !== 'model') {
    throw new MergeError('MERGE_ARGUMENT', `is ${String(scope)}, expected 'tensor' or 'model'`, 'scope');
  }
  const out = base.zerosLike();
  const xs = models.map((m) => m.data);
  if (scope === 'model') {
    tiesSegment(base.data, xs, 0, base.size, density, lambda, out.data, null, 'the model');
  } else {
    for (const spec of base.specs) {
      const start = base.offsetOf(spec.name);
      const end = start + base.tensor(spec.name).length;
      tiesSegment(base.data, xs, start, end, density, lambda, out.data, null, `tensor "${spec.name}"`);
    }
  }
  return out;
}

/**
 * TIES over bare task vectors (θ₀ = 0, one scope): the merged vector λ·τ_m and the elected
 * sign of each entry before the zero-sign rule (1, −1, or 0 where Σᵢ τ̂ᵢ = 0).
 */
export function tiesMergeDeltas(
  deltas: readonly Float32Array[],
  opts: Omit<TiesOptions, 'scope'> = {},
): { merged: Float32Array; elected: Int8Array } {
  if (!Array.isArray(deltas) || deltas.length === 0) {
    throw new MergeError('MERGE_ARGUMENT', 'expected at least one task vector', 'deltas');
  }
  const n = deltas[0].length;
  deltas.forEach((d, i) => {
    if (!(d instanceof Float32Array)) throw new MergeError('MERGE_ARGUMENT', 'expected a Float32Array', `deltas[${i}]`);
    if (d.length !== n) throw new MergeError('MERGE_LAYOUT', `has ${d.length} entries, expected ${n}`, `deltas[${i}]`);
  });
  const { density, lambda } = tiesArgs(opts);
  const merged = new Float32Array(n);
  const elected = new Int8Array(n);
  tiesSegment(new Float32Array(n), deltas, 0, n, density, lambda, merged, elected, 'the task vectors');
  return { merged, elected };
}

function tiesArgs(opts: Omit<TiesOptions, 'scope'>): { density: number; lambda: number } {
  const density = opts.density ?? 0.2;
  const lambda = opts.lambda ?? 1;
  expectInRange('density', density, 0, 1);
  expectFiniteNumber('lambda', lambda);
  return { density, lambda };
}

/**
 * ⌊density·n⌋, except that a product within 1e-9 (relative) below an integer counts as that
 * integer: 0.29·100 is 28.999999999999996 in float64 but plainly means 29.
 */
export function trimCount(density: number, n: number): number {
  const x = density * n;
  const r = Math.round(x);
  return Math.abs(x - r) <= 1e-9 * Math.max(1, x) ? r : Math.floor(x);
}

// Scratch reused across calls, grown as needed: per-model float32 deltas of a scope, and
// the scope's per-element sums and counts. The hot loops live in small functions of their
// own so that V8 optimises each with exact types (one big function ran them 2-3x slower).
const scratch: Float32Array[] = [];
/** Each element's positive and negative counts share one int32, 16 bits each. */
const MAX_MODELS = 0xffff;
let posSum = new Float64Array(0);
let negSum = new Float64Array(0);
let counts = new Int32Array(0);

function deltaScratch(i: number, n: number): Float32Array {
  if (scratch.length <= i || scratch[i].length < n) scratch[i] = new Float32Array(n);
  return scratch[i];
}

/** d[0, n) ← x[start + j] − base[start + j], rounded to float32 (the ranking values). */
function subtractInto(x: Float32Array, base: Float32Array, start: number, n: number, d: Float32Array): void {
  for (let j = 0; j < n; j++) d[j] = x[start + j] - base[start + j];
}

/**
 * Adds the kept deltas of one or two models to the per-element sums: exact float64 deltas
 * into pos or neg by sign, and 1 into the low (positive) or high (negative) half of cnt.
 * Keep and sign are 0/1 integers from the bits, without a data-dependent branch (one
 * mispredicts on random signs and keep rates). Two models per pass halve the traffic on the
 * sums, which bounds this loop.
 */
function accumulateKept(
  x: Float32Array,
  base: Float32Array,
  start: number,
  n: number,
  bits: Int32Array,
  t: number,
  cut: number,
  pos: Float64Array,
  neg: Float64Array,
  cnt: Int32Array,
): void {
  for (let j = 0; j < n; j++) {
    const w = bits[j];
    const keep = keepBit(w, j, t, cut);
    const isNeg = keep & (w >>> 31);
    const isPos = keep ^ isNeg;
    const d = x[start + j] - base[start + j];
    pos[j] += d * isPos;
    neg[j] += d * isNeg;
    cnt[j] += isPos + (isNeg << 16);
  }
}

function accumulateKept2(
  x0: Float32Array,
  x1: Float32Array,
  base: Float32Array,
  start: number,
  n: number,
  bits0: Int32Array,
  bits1: Int32Array,
  t0: number,
  cut0: number,
  t1: number,
  cut1: number,
  pos: Float64Array,
  neg: Float64Array,
  cnt: Int32Array,
): void {
  for (let j = 0; j < n; j++) {
    const b = base[start + j];
    const w0 = bits0[j];
    const w1 = bits1[j];
    const k0 = keepBit(w0, j, t0, cut0);
    const k1 = keepBit(w1, j, t1, cut1);
    const n0 = k0 & (w0 >>> 31);
    const n1 = k1 & (w1 >>> 31);
    const p0 = k0 ^ n0;
    const p1 = k1 ^ n1;
    const d0 = x0[start + j] - b;
    const d1 = x1[start + j] - b;
    // (pos + d0·p0) + d1·p1: the same order, so the same bits, as two single-model passes.
    pos[j] = pos[j] + d0 * p0 + d1 * p1;
    neg[j] = neg[j] + d0 * n0 + d1 * n1;
    cnt[j] += p0 + p1 + ((n0 + n1) << 16);
  }
}

/**
 * Elects γ = sign(pos + neg) per element and writes base + λ·(disjoint mean). Returns the
 * scope's Σ γ; entries whose kept deltas cancel exactly (γ = 0 with some kept) are queued.
 */
function electAndMerge(
  base: Float32Array,
  start: number,
  n: number,
  lambda: number,
  pos: Float64Array,
  neg: Float64Array,
  cnt: Int32Array,
  out: Float32Array,
  elected: Int8Array | null,
  pending: number[],
): number {
  let signSum = 0;
  for (let j = 0; j < n; j++) {
    const p = pos[j];
    const q = neg[j];
    const c = cnt[j];
    const sum = p + q;
    // Selected arithmetically, not by branching: γ is a coin flip per element on real task
    // vectors and a mispredicted branch here cost twice the rest of the loop. A zero count
    // has a zero sum, and + 1e-300 vanishes against any count >= 1, so both means are exact.
    const gPos = +(sum > 0);
    const gNeg = +(sum < 0);
    const mean = gPos * (p / ((c & 0xffff) + 1e-300)) + gNeg * (q / ((c >>> 16) + 1e-300));
    signSum += gPos - gNeg;
    if (sum === 0 && c !== 0) pending.push(j);
    if (elected !== null) elected[j] = gPos - gNeg;
    out[start + j] = base[start + j] + lambda * mean;
  }
  return signSum;
}

function tiesSegment(
  base: Float32Array,
  xs: readonly Float32Array[],
  start: number,
  end: number,
  density: number,
  lambda: number,
  out: Float32Array,
  elected: Int8Array | null,
  where: string,
): void {
  const n = end - start;
  if (xs.length > MAX_MODELS) {
    throw new MergeError('MERGE_ARGUMENT', `${xs.length} models, at most ${MAX_MODELS} can be merged at once`, 'models');
  }
  const k = trimCount(density, n);
  if (posSum.length < n) {
    posSum = new Float64Array(n);
    negSum = new Float64Array(n);
    counts = new Int32Array(n);
  }
  const pos = posSum.subarray(0, n).fill(0);
  const neg = negSum.subarray(0, n).fill(0);
  const cnt = counts.subarray(0, n).fill(0);
  // Trim each model's task vector to its exact top-k, then add what it keeps to the sums,
  // two models per pass.
  const kept: { bits: Int32Array; key: number; cut: number }[] = [];
  xs.forEach((x, i) => {
    const d = deltaScratch(i, n);
    subtractInto(x, base, start, n, d);
    const bits = new Int32Array(d.buffer, 0, n);
    const t = topkThreshold(bits, n, k);
    if (t.nonFinite) {
      let at = 0;
      while (Number.isFinite(d[at])) at++;
      throw new MergeError(
        'MERGE_NON_FINITE',
        `task vector of model ${i} is not finite at element ${at} of ${where} (${x[start + at]} − ${base[start + at]})`,
        `models[${i}]`,
      );
    }
    kept.push({ bits, key: t.key, cut: t.cut });
  });
  let i = 0;
  for (; i + 1 < xs.length; i += 2) {
    const [a, b] = [kept[i], kept[i + 1]];
    accumulateKept2(xs[i], xs[i + 1], base, start, n, a.bits, b.bits, a.key, a.cut, b.key, b.cut, pos, neg, cnt);
  }
  if (i < xs.length) accumulateKept(xs[i], base, start, n, kept[i].bits, kept[i].key, kept[i].cut, pos, neg, cnt);
  // Elect and take the disjoint mean; cancelled entries wait for the scope's majority sign.
  const pending: number[] = [];
  const signSum = electAndMerge(base, start, n, lambda, pos, neg, cnt, out, elected, pending);
  for (const j of pending) {
    const mean = signSum > 0 ? pos[j] / (cnt[j] & 0xffff) : signSum < 0 ? neg[j] / (cnt[j] >>> 16) : 0;
    out[start + j] = base[start + j] + lambda * mean;
  }
}
