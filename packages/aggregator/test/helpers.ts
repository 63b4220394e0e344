import { ParamSet, fullSlice, resolveSlice, type Slice, type TensorSpec } from '@fednode/core';
import type { ClientUpdate } from '../src/index.js';

export function params(specs: readonly TensorSpec[], values: number[]): ParamSet {
  const p = ParamSet.zeros(specs);
  p.data.set(values);
  return p;
}

/** A whole-model update whose delta is `delta` (update convention: local − global). */
export function update(specs: readonly TensorSpec[], delta: number[], o: Partial<ClientUpdate> & { sender: string }): ClientUpdate {
  const resolved = resolveSlice(fullSlice(specs), specs);
  return { round: 0, baseVersion: 0, examples: 1, resolved, delta: params(resolved.localSpecs, delta), ...o };
}

/** An update over `slice` with the given local delta values. */
export function sliceUpdate(specs: readonly TensorSpec[], slice: Slice, delta: number[], o: Partial<ClientUpdate> & { sender: string }): ClientUpdate {
  const resolved = resolveSlice(slice, specs);
  return { round: 0, baseVersion: 0, examples: 1, resolved, delta: params(resolved.localSpecs, delta), ...o };
}

export function close(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])))) {
      throw new Error(`element ${i}: ${actual[i]}, expected ${expected[i]} (all: ${Array.from(actual).join(', ')})`);
    }
  }
}
