import type { ParamSet } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import { linearAssignment } from './assignment.js';
import { expectSameLayout } from './checks.js';
import { MergeError } from './errors.js';
import { axisPerms, gatherAxes, permuteBySpec, resolveSpec, type PermutationSpec, type TensorAxes } from './permutation-spec.js';
import type { WeightMatchingOptions } from './weight-matching.js';

export interface SpecMatchingOptions extends WeightMatchingOptions {
  /** Called after each group is solved: sweep, the group's name, groups done in the sweep. */
  onGroup?: (sweep: number, group: string, done: number, total: number) => void;
}

export interface SpecMatchingResult {
  /** One per group of the spec, in its order: unit i of π(B) is unit permutations[g][i] of B. */
  readonly permutations: Int32Array[];
  /** π(B), aligned to A. */
  readonly permuted: ParamSet;
  readonly sweeps: number;
  /** True when a sweep improved no group by more than 1e-12 (false: maxSweeps ran out). */
  readonly converged: boolean;
}

const PROGRESS_EPS = 1e-12;

/**
 * Weight matching (git re-basin) for any network described by a {@link PermutationSpec}:
 * permutes B's units to maximise Σ_w ⟨A_w, π(B)_w⟩ by coordinate ascent over the groups.
 * Each sweep visits the groups in a seeded random order; for group g it forms
 * S[i, j] = Σ over g's axes of ⟨A's slice i, π₋g(B)'s slice j⟩ (π₋g: every other group's
 * current permutation applied) and sets P_g to the linear assignment maximising tr(P·S).
 * Sums run in float64 in a fixed order, so the result is deterministic.
 *
 * This is what lets models trained from different initialisations be merged: averaging
 * unaligned units mixes unrelated features.
 *
 * @throws MergeError MERGE_LAYOUT if the layouts differ or a tensor is missing;
 *   MERGE_ARGUMENT for a bad spec, maxSweeps or seed.
 */
export function weightMatchingBySpec(a: ParamSet, b: ParamSet, spec: PermutationSpec, opts: SpecMatchingOptions = {}): SpecMatchingResult {
  expectSameLayout(a, b, 'b');
  const tensors = [...resolveSpec(a, spec).values()];
  const maxSweeps = opts.maxSweeps ?? 100;
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(maxSweeps) || maxSweeps < 1) throw new MergeError('MERGE_ARGUMENT', `is ${maxSweeps}, expected an integer >= 1`, 'maxSweeps');
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new MergeError('MERGE_ARGUMENT', `is ${seed}, expected an integer in [0, 2^32 - 1]`, 'seed');
  const groups = spec.groups;
  const perms: Int32Array[] = groups.map((g) => Int32Array.from({ length: g.size }, (_, i) => i));
  const byGroup = groups.map((_, gi) => tensors.filter((t) => t.groupOf.includes(gi)));
  const rng = new Rng(seed);
  const order = groups.map((_, gi) => gi);
  let sweeps = 0;
  let converged = false;
  while (!converged && sweeps < maxSweeps) {
    sweeps++;
    rng.shuffle(order);
    let progress = false;
    order.forEach((gi, done) => {
      const n = groups[gi].size;
      const s = groupSimilarity(a, b, byGroup[gi], perms, gi, n);
      const old = perms[gi];
      let oldValue = 0;
      for (let i = 0; i < n; i++) oldValue += s[i * n + old[i]];
      const best = linearAssignment(s, n, { maximize: true });
      if (best.value > oldValue + PROGRESS_EPS) progress = true;
      perms[gi] = best.cols;
      opts.onGroup?.(sweeps, groups[gi].name, done + 1, groups.length);
    });
    converged = !progress;
  }
  return { permutations: perms, permuted: permuteBySpec(b, spec, perms), sweeps, converged };
}

/**
 * S[i, j] = Σ_t ⟨A_t's slice i, B_t's slice j⟩ along group g's axis of each tensor t, with
 * B_t's other axes permuted by the other groups. Each tensor is gathered into [n, rest]
 * rows first, so the inner products run over contiguous memory.
 */
function groupSimilarity(a: ParamSet, b: ParamSet, tensors: readonly TensorAxes[], perms: readonly Int32Array[], gi: number, n: number): Float64Array {
  const s = new Float64Array(n * n);
  for (const t of tensors) {
    const axis = t.groupOf.indexOf(gi);
    const x = rowsAlong(a.tensor(t.name), t.view, axis);
    const y = rowsAlong(gatherAxes(b.tensor(t.name), t.view, axisPerms(t, perms, gi)), t.view, axis);
    const rest = x.length / n;
    for (let i = 0; i < n; i++) {
      const xi = i * rest;
      for (let j = 0; j < n; j++) {
        const yj = j * rest;
        let acc = 0;
        for (let k = 0; k < rest; k++) acc += x[xi + k] * y[yj + k];
        s[i * n + j] += acc;
      }
    }
  }
  return s;
}

/** The tensor as [view[axis], rest] rows: row i holds every element whose index on `axis` is i. */
function rowsAlong(src: Float32Array, view: readonly number[], axis: number): Float64Array {
  const n = view[axis];
  let outer = 1;
  for (let k = 0; k < axis; k++) outer *= view[k];
  const inner = src.length / (outer * n);
  const rest = outer * inner;
  const out = new Float64Array(src.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      const from = (o * n + i) * inner;
      const to = i * rest + o * inner;
      for (let k = 0; k < inner; k++) out[to + k] = src[from + k];
    }
  }
  return out;
}
