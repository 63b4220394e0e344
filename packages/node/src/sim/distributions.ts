import type { Rng } from '@fednode/kernels';

/**
 * Per-client quantities drawn once from a distribution:
 * - constant: value
 * - uniform: in [min, max)
 * - lognormal: median·e^(σ·N(0,1)) (a long right tail)
 * - pareto-slowdown: value / X with X ~ Pareto(1, alpha) ≥ 1: most clients near `value`,
 *   a heavy tail of much slower ones (stragglers)
 */
export type Dist =
  | { readonly dist: 'constant'; readonly value: number }
  | { readonly dist: 'uniform'; readonly min: number; readonly max: number }
  | { readonly dist: 'lognormal'; readonly median: number; readonly sigma: number }
  | { readonly dist: 'pareto-slowdown'; readonly value: number; readonly alpha: number };

export function sample(d: Dist, rng: Rng): number {
  switch (d.dist) {
    case 'constant':
      return d.value;
    case 'uniform':
      return d.min + (d.max - d.min) * rng.uniform();
    case 'lognormal':
      return d.median * Math.exp(d.sigma * rng.normal());
    case 'pareto-slowdown':
      return d.value * Math.pow(1 - rng.uniform(), 1 / d.alpha);
  }
}

export const DIST_SCHEMA = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['dist', 'value'], properties: { dist: { const: 'constant' }, value: { type: 'number', minimum: 0 } } },
    {
      type: 'object',
      additionalProperties: false,
      required: ['dist', 'min', 'max'],
      properties: { dist: { const: 'uniform' }, min: { type: 'number', minimum: 0 }, max: { type: 'number', minimum: 0 } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['dist', 'median', 'sigma'],
      properties: { dist: { const: 'lognormal' }, median: { type: 'number', exclusiveMinimum: 0 }, sigma: { type: 'number', minimum: 0 } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['dist', 'value', 'alpha'],
      properties: { dist: { const: 'pareto-slowdown' }, value: { type: 'number', exclusiveMinimum: 0 }, alpha: { type: 'number', exclusiveMinimum: 0 } },
    },
  ],
} as const;
