import { CoreError } from '../errors.js';
import { ParamSet } from '../tensor/paramset.js';
import type { ResolvedSlice } from './slice.js';

/** Copies the slice's elements of `global` into a new local parameter set. */
export function extractSlice(global: ParamSet, resolved: ResolvedSlice): ParamSet {
  const local = ParamSet.zeros(resolved.localSpecs);
  extractSliceInto(global, resolved, local);
  return local;
}

/** Copies the slice's elements of `global` into `local` (laid out as `resolved.localSpecs`). */
export function extractSliceInto(global: ParamSet, resolved: ResolvedSlice, local: ParamSet): void {
  for (const t of resolved.tensors) {
    const g = global.tensor(t.name);
    const l = local.tensor(t.name);
    expectSame(t.name, l.length, t.indexMap.length);
    if (t.whole) {
      l.set(g);
      continue;
    }
    const map = t.indexMap;
    for (let i = 0; i < map.length; i++) l[i] = g[map[i]];
  }
}

/** Writes the local tensors back to their places in `global`; elements outside the slice are untouched. */
export function scatterSlice(local: ParamSet, resolved: ResolvedSlice, global: ParamSet): void {
  for (const t of resolved.tensors) {
    const g = global.tensor(t.name);
    const l = local.tensor(t.name);
    expectSame(t.name, l.length, t.indexMap.length);
    if (t.whole) {
      g.set(l);
      continue;
    }
    const map = t.indexMap;
    for (let i = 0; i < map.length; i++) g[map[i]] = l[i];
  }
}

/**
 * Flat indices into `global.data` of every element the slice covers, in local order
 * (tensor after tensor): what coverage-masked averaging accumulates into.
 */
export function sliceCoverage(resolved: ResolvedSlice, global: ParamSet): Uint32Array {
  const total = resolved.tensors.reduce((n, t) => n + t.indexMap.length, 0);
  const out = new Uint32Array(total);
  let k = 0;
  for (const t of resolved.tensors) {
    const base = global.offsetOf(t.name);
    const map = t.indexMap;
    for (let i = 0; i < map.length; i++) out[k++] = base + map[i];
  }
  return out;
}

function expectSame(name: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new CoreError('PARAMS_LAYOUT', `local tensor has ${actual} elements, the slice covers ${expected}`, name);
  }
}
