import type { ParamSet } from '@fednode/core';
import { expectSameLayout } from './checks.js';
import { axisPerms, gatherAxes, permuteBySpec, resolveSpec, type PermutationSpec, type TensorAxes } from './permutation-spec.js';
import { addRowProducts, coordinateAscent, type WeightMatchingOptions } from './coordinate-ascent.js';

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
  const groups = spec.groups;
  const byGroup = groups.map((_, gi) => tensors.filter((t) => t.groupOf.includes(gi)));
  const { perms, sweeps, converged } = coordinateAscent(
    groups.map((g) => g.size),
    opts,
    (gi, current) => groupSimilarity(a, b, byGroup[gi], current, gi, groups[gi].size),
    (sweep, gi, done) => opts.onGroup?.(sweep, groups[gi].name, done, groups.length),
  );
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
    addRowProducts(x, y, n, x.length / n, s);
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
