import { Rng } from '@fednode/kernels';
import { ModelError } from './errors.js';

/**
 * The sandwich rule's width sampler (spec 6, US-Nets / BigNAS): each step trains the largest
 * and the smallest width plus n − 2 widths drawn uniformly from [min, max]. The draw of step s
 * comes from Rng.derive(seed, s), so a step's widths do not depend on how many came before.
 */
export interface SandwichOptions {
  /** Widths per step (US-Nets: 4). */
  n: number;
  /** Smallest width ratio (US-Nets: 0.35). */
  min: number;
  /** Largest width ratio (default 1). */
  max?: number;
  seed: number;
}

export function sandwichWidths(step: number, o: SandwichOptions): number[] {
  const max = o.max ?? 1;
  if (!Number.isInteger(o.n) || o.n < 2) throw new ModelError('MODEL_CONFIG', `sandwich n ${o.n} must be an integer >= 2`);
  if (!(o.min > 0 && o.min <= max && max <= 1)) throw new ModelError('MODEL_CONFIG', `sandwich range [${o.min}, ${max}] is not inside (0, 1]`);
  if (!Number.isSafeInteger(step) || step < 0) throw new ModelError('MODEL_CONFIG', `step ${step} must be a non-negative integer`);
  const rng = Rng.derive(o.seed, step);
  const out = [max, o.min];
  for (let i = 2; i < o.n; i++) out.push(o.min + (max - o.min) * rng.uniform());
  return out;
}
