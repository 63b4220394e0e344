import type { ParamSet } from '@fednode/core';
import { MergeError } from './errors.js';
import { expectPermutation } from './permutation.js';

/**
 * Permutation symmetries of any network, git re-basin's "permutation spec": a group is one
 * set of interchangeable units (an MLP's hidden units, a conv layer's channels, a block's
 * attention heads or feed-forward units, the residual stream's features), and it acts on
 * one axis of each tensor its units touch. Permuting every such axis by the same
 * permutation leaves the network's function unchanged.
 *
 * A tensor may be seen through a `view` of the same element count, so that a group acts on
 * blocks of elements: the heads of `q.weight` [d, H·dh] are axis 1 of [d, H, dh], and the
 * CNN's conv2 channels are axis 1 of `fc1.weight` [512, 64·7·7] seen as [512, 64, 49].
 */
export interface PermutedAxis {
  readonly tensor: string;
  /** Axis of the tensor's view (its own shape unless `views` names one). */
  readonly axis: number;
}

export interface PermutationGroup {
  /** Names the group in results and errors: `conv1`, `blocks.0.heads`, `residual`. */
  readonly name: string;
  /** Units in the group. */
  readonly size: number;
  readonly axes: readonly PermutedAxis[];
}

export interface PermutationSpec {
  readonly groups: readonly PermutationGroup[];
  /** Shapes through which tensors are seen (same element count as the tensor). */
  readonly views?: Readonly<Record<string, readonly number[]>>;
}

/** One tensor's role under a spec: its view and, per axis, the group acting on it (−1: none). */
export interface TensorAxes {
  readonly name: string;
  readonly view: readonly number[];
  readonly groupOf: Int32Array;
}

/**
 * Checks `spec` against `model` and returns, for each tensor some group touches, its view
 * and which group acts on each axis. Refuses a missing tensor, a view of another element
 * count, an axis out of range or of the wrong size, and an axis claimed twice.
 */
export function resolveSpec(model: ParamSet, spec: PermutationSpec): Map<string, TensorAxes> {
  if (!Array.isArray(spec.groups) || spec.groups.length === 0) {
    throw new MergeError('MERGE_ARGUMENT', 'expected at least one permutation group', 'spec.groups');
  }
  const out = new Map<string, TensorAxes>();
  const names = new Set<string>();
  spec.groups.forEach((g, gi) => {
    const field = `spec.groups[${gi}]`;
    if (names.has(g.name)) throw new MergeError('MERGE_ARGUMENT', `group "${g.name}" is named twice`, field);
    names.add(g.name);
    if (!Number.isSafeInteger(g.size) || g.size < 1) throw new MergeError('MERGE_ARGUMENT', `group "${g.name}" has size ${g.size}, expected an integer >= 1`, field);
    for (const { tensor, axis } of g.axes) {
      let t = out.get(tensor);
      if (t === undefined) {
        if (!model.has(tensor)) throw new MergeError('MERGE_LAYOUT', `the model has no tensor named "${tensor}" (group "${g.name}")`, field);
        const own = model.spec(tensor).shape;
        const view = spec.views?.[tensor] ?? own;
        if (view.reduce((a, d) => a * d, 1) !== own.reduce((a, d) => a * d, 1)) {
          throw new MergeError('MERGE_ARGUMENT', `view [${view.join(', ')}] of "${tensor}" does not hold its shape [${own.join(', ')}]`, 'spec.views');
        }
        t = { name: tensor, view, groupOf: new Int32Array(view.length).fill(-1) };
        out.set(tensor, t);
      }
      if (!Number.isInteger(axis) || axis < 0 || axis >= t.view.length) {
        throw new MergeError('MERGE_ARGUMENT', `axis ${axis} of "${tensor}" is outside its view [${t.view.join(', ')}]`, field);
      }
      if (t.view[axis] !== g.size) {
        throw new MergeError('MERGE_ARGUMENT', `axis ${axis} of "${tensor}" has ${t.view[axis]} entries, group "${g.name}" has ${g.size} units`, field);
      }
      if (t.groupOf[axis] !== -1) throw new MergeError('MERGE_ARGUMENT', `axis ${axis} of "${tensor}" is claimed by two groups`, field);
      t.groupOf[axis] = gi;
    }
  });
  return out;
}

/**
 * out[i₀, …, i_{r−1}] = src[p₀(i₀), …, p_{r−1}(i_{r−1})] over a row-major view, where a null
 * entry of `perms` leaves that axis in place. A pure gather, so bit-exact.
 */
export function gatherAxes(src: Float32Array, view: readonly number[], perms: readonly (Int32Array | null)[], out: Float32Array = new Float32Array(src.length)): Float32Array {
  const rank = view.length;
  const strides = new Array<number>(rank);
  let s = 1;
  for (let k = rank - 1; k >= 0; k--) {
    strides[k] = s;
    s *= view[k];
  }
  // Recursion over the axes with the last one as a tight loop: views have rank <= 4.
  const last = rank - 1;
  const walk = (k: number, from: number, to: number): number => {
    const p = perms[k];
    const n = view[k];
    if (k === last) {
      if (p === null) out.set(src.subarray(from, from + n), to);
      else for (let i = 0; i < n; i++) out[to + i] = src[from + p[i]];
      return to + n;
    }
    for (let i = 0; i < n; i++) to = walk(k + 1, from + (p === null ? i : p[i]) * strides[k], to);
    return to;
  };
  if (rank === 0 || src.length === 0) out.set(src);
  else walk(0, 0, 0);
  return out;
}

/**
 * π(model) under `spec`: every axis a group acts on is permuted by that group's permutation
 * (unit i of the result is unit perms[g][i] of the input). Tensors no group touches are
 * copied. Returns a new set.
 *
 * @throws MergeError MERGE_ARGUMENT for a bad spec or permutations; MERGE_LAYOUT for missing tensors.
 */
export function permuteBySpec(model: ParamSet, spec: PermutationSpec, perms: readonly Int32Array[]): ParamSet {
  const tensors = resolveSpec(model, spec);
  if (!Array.isArray(perms) || perms.length !== spec.groups.length) {
    throw new MergeError('MERGE_ARGUMENT', `expected ${spec.groups.length} permutations, one per group`, 'perms');
  }
  spec.groups.forEach((g, gi) => expectPermutation(perms[gi], g.size, `perms[${gi}]`));
  const out = model.clone();
  for (const t of tensors.values()) gatherAxes(model.tensor(t.name), t.view, axisPerms(t, perms, -1), out.tensor(t.name));
  return out;
}

/** The permutation on each axis of `t`, except the axes of group `skip` (left in place). */
export function axisPerms(t: TensorAxes, perms: readonly Int32Array[], skip: number): (Int32Array | null)[] {
  return Array.from(t.groupOf, (g) => (g < 0 || g === skip ? null : perms[g]));
}
