import { CoreError } from '../errors.js';

/** A named tensor's shape. Element order is row-major. */
export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

interface Placement {
  readonly index: number;
  readonly offset: number;
  readonly size: number;
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkSpecs(specs: readonly TensorSpec[]): Map<string, Placement> {
  const places = new Map<string, Placement>();
  let offset = 0;
  specs.forEach((s, index) => {
    if (typeof s.name !== 'string' || s.name.length === 0) {
      throw new CoreError('PARAMS_LAYOUT', 'tensor name must be a non-empty string', `specs[${index}].name`);
    }
    if (places.has(s.name)) throw new CoreError('PARAMS_LAYOUT', `duplicate tensor name "${s.name}"`, `specs[${index}].name`);
    for (const d of s.shape) {
      if (!Number.isSafeInteger(d) || d < 1) {
        throw new CoreError('PARAMS_LAYOUT', `bad dimension ${d} in shape [${s.shape.join(', ')}]`, `${s.name}.shape`);
      }
    }
    const size = shapeSize(s.shape);
    places.set(s.name, { index, offset, size });
    offset += size;
  });
  return places;
}

/**
 * Named tensors backed by one contiguous Float32Array, so whole-model kernels (averaging,
 * optimiser steps, norms) run over `data` in one pass and each tensor is a view into it.
 */
export class ParamSet {
  readonly specs: readonly TensorSpec[];
  readonly data: Float32Array;
  private readonly places: Map<string, Placement>;

  private constructor(specs: readonly TensorSpec[], data: Float32Array, places: Map<string, Placement>) {
    this.specs = specs;
    this.data = data;
    this.places = places;
  }

  static zeros(specs: readonly TensorSpec[]): ParamSet {
    const places = checkSpecs(specs);
    const total = specs.reduce((n, s) => n + shapeSize(s.shape), 0);
    return new ParamSet(freezeSpecs(specs), new Float32Array(total), places);
  }

  /** Wraps `data` (not copied) laid out as `specs` in order. */
  static wrap(specs: readonly TensorSpec[], data: Float32Array): ParamSet {
    const places = checkSpecs(specs);
    const total = specs.reduce((n, s) => n + shapeSize(s.shape), 0);
    if (data.length !== total) {
      throw new CoreError('PARAMS_LAYOUT', `data has ${data.length} elements, the specs need ${total}`, 'data');
    }
    return new ParamSet(freezeSpecs(specs), data, places);
  }

  /** Builds a set from named arrays, copying them into one buffer. */
  static fromTensors(tensors: readonly { name: string; shape: readonly number[]; data: ArrayLike<number> }[]): ParamSet {
    const p = ParamSet.zeros(tensors.map((t) => ({ name: t.name, shape: t.shape })));
    for (const t of tensors) {
      const view = p.tensor(t.name);
      if (t.data.length !== view.length) {
        throw new CoreError('PARAMS_LAYOUT', `has ${t.data.length} values, shape needs ${view.length}`, t.name);
      }
      view.set(t.data);
    }
    return p;
  }

  get size(): number {
    return this.data.length;
  }

  names(): string[] {
    return this.specs.map((s) => s.name);
  }

  has(name: string): boolean {
    return this.places.has(name);
  }

  spec(name: string): TensorSpec {
    return this.specs[this.place(name).index];
  }

  /** The tensor's elements: a view into `data`, so writes go to the set. */
  tensor(name: string): Float32Array {
    const p = this.place(name);
    return this.data.subarray(p.offset, p.offset + p.size);
  }

  offsetOf(name: string): number {
    return this.place(name).offset;
  }

  clone(): ParamSet {
    return new ParamSet(this.specs, this.data.slice(), this.places);
  }

  zerosLike(): ParamSet {
    return new ParamSet(this.specs, new Float32Array(this.data.length), this.places);
  }

  /** True when `other` has the same names and shapes in the same order. */
  sameLayout(other: ParamSet): boolean {
    return sameSpecs(this.specs, other.specs);
  }

  private place(name: string): Placement {
    const p = this.places.get(name);
    if (p === undefined) throw new CoreError('PARAMS_LAYOUT', `no tensor named "${name}"`, 'name');
    return p;
  }
}

export function sameSpecs(a: readonly TensorSpec[], b: readonly TensorSpec[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name || a[i].shape.length !== b[i].shape.length) return false;
    for (let d = 0; d < a[i].shape.length; d++) if (a[i].shape[d] !== b[i].shape[d]) return false;
  }
  return true;
}

function freezeSpecs(specs: readonly TensorSpec[]): readonly TensorSpec[] {
  return Object.freeze(specs.map((s) => Object.freeze({ name: s.name, shape: Object.freeze([...s.shape]) })));
}
