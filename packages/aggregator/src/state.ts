import { encodeSafetensorsBytes, parseSafetensors, ParamSet, type SafeTensor } from '@fednode/core';
import { AggregatorError } from './errors.js';

/**
 * A strategy's saved state: named float32 arrays plus a JSON document of everything else,
 * as one safetensors blob (so it is inspectable with any safetensors tool).
 */
export interface SavedState {
  readonly kind: string;
  readonly json: unknown;
  readonly arrays: ReadonlyMap<string, Float32Array>;
}

export const STATE_KIND_KEY = 'fednode.strategy';
const JSON_KEY = 'fednode.state';

export function encodeState(kind: string, json: unknown, arrays: Iterable<[string, Float32Array]>): Uint8Array {
  const tensors: SafeTensor[] = [];
  for (const [name, a] of arrays) {
    tensors.push({ name, dtype: 'F32', shape: [a.length], bytes: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) });
  }
  return encodeSafetensorsBytes(tensors, { [STATE_KIND_KEY]: kind, [JSON_KEY]: JSON.stringify(json) });
}

export function decodeState(bytes: Uint8Array, kind: string): SavedState {
  let file;
  try {
    file = parseSafetensors(bytes);
  } catch (e) {
    throw new AggregatorError('AGG_STATE', `saved ${kind} state is unreadable: ${(e as Error).message}`);
  }
  if (file.metadata[STATE_KIND_KEY] !== kind) {
    throw new AggregatorError('AGG_STATE', `saved state is for strategy "${file.metadata[STATE_KIND_KEY]}", not "${kind}"`);
  }
  let json: unknown;
  try {
    json = JSON.parse(file.metadata[JSON_KEY] ?? '');
  } catch {
    throw new AggregatorError('AGG_STATE', `saved ${kind} state has no readable JSON part`);
  }
  const arrays = new Map<string, Float32Array>();
  for (const t of file.tensors) {
    const a = new Float32Array(t.bytes.byteLength / 4);
    new Uint8Array(a.buffer).set(t.bytes);
    arrays.set(t.name, a);
  }
  return { kind, json, arrays };
}

export function requireArray(s: SavedState, name: string, length: number): Float32Array {
  const a = s.arrays.get(name);
  if (a === undefined || a.length !== length) {
    throw new AggregatorError('AGG_STATE', `saved ${s.kind} state lacks "${name}" of ${length} values`);
  }
  return a;
}

/** The global model's tensors under a prefix, and back. */
export function paramsToArrays(p: ParamSet, prefix: string): [string, Float32Array][] {
  return p.specs.map((s) => [`${prefix}${s.name}`, p.tensor(s.name)]);
}

export function paramsFromState(s: SavedState, specs: ParamSet['specs'], prefix: string): ParamSet {
  const p = ParamSet.zeros(specs);
  for (const spec of specs) {
    const view = p.tensor(spec.name);
    view.set(requireArray(s, `${prefix}${spec.name}`, view.length));
  }
  return p;
}
