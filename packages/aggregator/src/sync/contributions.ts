import type { EncodedTensor, TensorCodecParams, TensorSpec } from '@fednode/core';
import { AggregatorError } from '../errors.js';

/**
 * What one peer sent for one synchronisation step: its encoded tensors, in the order of the
 * model's parameters. Peers aggregate contributions in ascending peer-id order, so peers
 * that received the same set compute bit-identical results (float sums depend on order).
 */
export type Contributions = ReadonlyMap<string, readonly EncodedTensor[]>;

/** The peers of `c` in the order every peer aggregates them. */
export function peerOrder(c: Contributions): string[] {
  return [...c.keys()].sort();
}

function sameParams(a: TensorCodecParams, b: TensorCodecParams): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}

/**
 * Why `tensors` cannot be aggregated with this run's layout and codecs, or null when they
 * can: one tensor per parameter, same names, shapes and codec parameters. Checked on
 * receipt, so a malformed contribution is dropped before it reaches the aggregation.
 */
export function contributionProblem(specs: readonly TensorSpec[], codecs: readonly TensorCodecParams[], tensors: readonly EncodedTensor[]): string | null {
  if (tensors.length !== specs.length) return `${tensors.length} tensors, the model has ${specs.length}`;
  for (let i = 0; i < specs.length; i++) {
    const t = tensors[i];
    const s = specs[i];
    if (t.name !== s.name) return `tensor ${i} is ${JSON.stringify(t.name)}, expected ${JSON.stringify(s.name)}`;
    if (t.shape.length !== s.shape.length || t.shape.some((d, j) => d !== s.shape[j])) return `${s.name} has shape [${t.shape.join(', ')}], expected [${s.shape.join(', ')}]`;
    if (!sameParams(t.params, codecs[i])) return `${s.name} is coded as ${JSON.stringify(t.params)}, the run uses ${JSON.stringify(codecs[i])}`;
  }
  return null;
}

export function checkContributions(specs: readonly TensorSpec[], codecs: readonly TensorCodecParams[], c: Contributions): void {
  if (c.size === 0) throw new AggregatorError('AGG_CONFIG', 'a synchronisation step needs at least one contribution (our own)');
  for (const [peer, tensors] of c) {
    const why = contributionProblem(specs, codecs, tensors);
    if (why !== null) throw new AggregatorError('AGG_LAYOUT', `contribution of ${peer}: ${why}`);
  }
}
