import { CoreError } from '../errors.js';
import { shapeSize, type TensorSpec } from '../tensor/paramset.js';

/**
 * Which indices of one axis a peer holds. The covered elements of a tensor are the
 * Cartesian product of its axes' selections; the local tensor keeps that order.
 * - all: the whole axis
 * - range: [start, end), e.g. HeteroFL's leading rows/columns
 * - indices: an explicit list of distinct indices, in the order the local tensor uses
 * - window: FedRolex's rolling window, (start + i) mod dim for i < length
 */
export type AxisSelection =
  | { readonly kind: 'all' }
  | { readonly kind: 'range'; readonly start: number; readonly end: number }
  | { readonly kind: 'indices'; readonly indices: readonly number[] }
  | { readonly kind: 'window'; readonly start: number; readonly length: number };

export interface TensorSlice {
  readonly name: string;
  /** One selection per axis of the global tensor. */
  readonly axes: readonly AxisSelection[];
}

/** The part of the global parameters a peer holds. Tensors not listed are not held. */
export interface Slice {
  readonly tensors: readonly TensorSlice[];
}

export const ALL: AxisSelection = Object.freeze({ kind: 'all' });

/** The slice that holds every tensor whole. */
export function fullSlice(specs: readonly TensorSpec[]): Slice {
  return { tensors: specs.map((s) => ({ name: s.name, axes: s.shape.map(() => ALL) })) };
}

/** Indices an axis selection picks from an axis of size `dim`, in local order. */
export function axisIndices(sel: AxisSelection, dim: number, field: string): number[] {
  switch (sel.kind) {
    case 'all':
      return Array.from({ length: dim }, (_, i) => i);
    case 'range': {
      if (!Number.isSafeInteger(sel.start) || !Number.isSafeInteger(sel.end) || sel.start < 0 || sel.end > dim || sel.start >= sel.end) {
        throw new CoreError('SLICE_INVALID', `range [${sel.start}, ${sel.end}) is not a non-empty part of [0, ${dim})`, field);
      }
      return Array.from({ length: sel.end - sel.start }, (_, i) => sel.start + i);
    }
    case 'window': {
      if (!Number.isSafeInteger(sel.start) || !Number.isSafeInteger(sel.length) || sel.start < 0 || sel.start >= dim || sel.length < 1 || sel.length > dim) {
        throw new CoreError('SLICE_INVALID', `window start ${sel.start} length ${sel.length} does not fit an axis of ${dim}`, field);
      }
      return Array.from({ length: sel.length }, (_, i) => (sel.start + i) % dim);
    }
    case 'indices': {
      if (!Array.isArray(sel.indices) || sel.indices.length === 0) {
        throw new CoreError('SLICE_INVALID', 'index list is empty', field);
      }
      const seen = new Set<number>();
      for (const i of sel.indices) {
        if (!Number.isSafeInteger(i) || i < 0 || i >= dim) throw new CoreError('SLICE_INVALID', `index ${i} outside [0, ${dim})`, field);
        if (seen.has(i)) throw new CoreError('SLICE_INVALID', `index ${i} repeated`, field);
        seen.add(i);
      }
      return [...sel.indices];
    }
    default:
      throw new CoreError('SLICE_INVALID', `unknown axis selection kind "${(sel as { kind: unknown }).kind}"`, field);
  }
}

/** One tensor of a slice, resolved against the model's shapes. */
export interface ResolvedTensor {
  readonly name: string;
  readonly globalShape: readonly number[];
  readonly localShape: readonly number[];
  /** True when the slice holds the tensor whole, in global order (no index map needed). */
  readonly whole: boolean;
  /** For each local element (row-major), its flat index within the global tensor. */
  readonly indexMap: Uint32Array;
}

/** A slice checked against a model's specs, with the index maps to move values across. */
export interface ResolvedSlice {
  readonly slice: Slice;
  readonly tensors: readonly ResolvedTensor[];
  /** Local specs, in slice order: the layout of the local parameter set. */
  readonly localSpecs: readonly TensorSpec[];
}

/**
 * Slices resolved lately, per specs array. An aggregator resolves the same slice for every
 * update of a round, and a whole model's index maps are as large as the model (0.8 MB each
 * for the MNIST MLP): shared, 32 held updates cost one set instead of 32. Resolved slices are
 * never written to, so sharing them is safe; the bound keeps slices a peer invents from
 * piling up.
 */
const resolvedCache = new WeakMap<readonly TensorSpec[], Map<string, ResolvedSlice>>();
const RESOLVED_CACHE_ENTRIES = 16;

/** Checks a slice against the model's tensor specs and builds its index maps (or returns the ones built for an equal slice). */
export function resolveSlice(slice: Slice, specs: readonly TensorSpec[]): ResolvedSlice {
  let cache = resolvedCache.get(specs);
  if (cache === undefined) resolvedCache.set(specs, (cache = new Map()));
  let key: string | null = null;
  try {
    key = JSON.stringify(slice);
  } catch {
    // Not serialisable (a cycle): resolving it reports what is wrong.
  }
  const hit = key === null ? undefined : cache.get(key);
  if (hit !== undefined) return hit;
  const resolved = buildResolvedSlice(slice, specs);
  if (key !== null) {
    if (cache.size >= RESOLVED_CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
    // A copy of the slice, so a caller that later edits its own object cannot change the entry.
    cache.set(key, { ...resolved, slice: JSON.parse(key) as Slice });
  }
  return resolved;
}

function buildResolvedSlice(slice: Slice, specs: readonly TensorSpec[]): ResolvedSlice {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const seen = new Set<string>();
  if (!slice || !Array.isArray(slice.tensors)) throw new CoreError('SLICE_INVALID', 'slice.tensors must be an array', 'slice');
  const tensors = slice.tensors.map((t, ti): ResolvedTensor => {
    const field = `slice.tensors[${ti}]`;
    const spec = byName.get(t.name);
    if (spec === undefined) throw new CoreError('SLICE_INVALID', `no tensor named "${t.name}" in the model`, `${field}.name`);
    if (seen.has(t.name)) throw new CoreError('SLICE_INVALID', `tensor "${t.name}" listed twice`, `${field}.name`);
    seen.add(t.name);
    const axes: readonly AxisSelection[] = Array.isArray(t.axes) ? t.axes : [];
    if (axes.length !== spec.shape.length) {
      throw new CoreError('SLICE_INVALID', `has ${axes.length} axis selections, tensor has ${spec.shape.length} axes`, `${field}.axes`);
    }
    const perAxis = axes.map((sel, a) => axisIndices(sel, spec.shape[a], `${field}.axes[${a}]`));
    const localShape = perAxis.map((ix) => ix.length);
    const whole = axes.every((sel) => sel.kind === 'all');
    return { name: t.name, globalShape: spec.shape, localShape, whole, indexMap: buildIndexMap(perAxis, spec.shape) };
  });
  return { slice, tensors, localSpecs: tensors.map((t) => ({ name: t.name, shape: t.localShape })) };
}

function buildIndexMap(perAxis: number[][], shape: readonly number[]): Uint32Array {
  const n = perAxis.reduce((k, ix) => k * ix.length, 1);
  const map = new Uint32Array(n);
  const strides = shape.map((_, a) => shapeSize(shape.slice(a + 1)));
  // Odometer over the local multi-index; flat global index = sum of index * stride.
  const pos = perAxis.map(() => 0);
  for (let i = 0; i < n; i++) {
    let g = 0;
    for (let a = 0; a < perAxis.length; a++) g += perAxis[a][pos[a]] * strides[a];
    map[i] = g;
    for (let a = perAxis.length - 1; a >= 0; a--) {
      if (++pos[a] < perAxis[a].length) break;
      pos[a] = 0;
    }
  }
  return map;
}
