import { Rng } from '@fednode/kernels';
import type { ParamSet } from '@fednode/core';
import type { AttackSpec } from './scenario.js';

/**
 * What an attacking client does to its honest delta before sending it. Label flipping
 * happens in training (see `flipLabels`); a free rider trains nothing and sends zeros.
 */
export function attackDelta(a: AttackSpec, delta: ParamSet, seed: number): void {
  const d = delta.data;
  switch (a.kind) {
    case 'sign-flip': {
      const f = -(a.factor ?? 1);
      for (let i = 0; i < d.length; i++) d[i] *= f;
      return;
    }
    case 'scaling': {
      const f = a.factor ?? 10;
      for (let i = 0; i < d.length; i++) d[i] *= f;
      return;
    }
    case 'noise':
      new Rng(seed).fillNormal(d, 0, a.factor ?? 1);
      return;
    case 'free-rider':
      d.fill(0);
      return;
    case 'label-flip':
      return;
  }
}

/** Label flipping: class y becomes classes − 1 − y. */
export function flipLabels(y: Uint8Array, classes: number): Uint8Array {
  const out = new Uint8Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = classes - 1 - y[i];
  return out;
}
