import { AggregatorError } from './errors.js';

/**
 * Staleness weights s(τ) (spec 2; FLSim and Plato):
 * - constant: 1
 * - polynomial: (1 + τ)^(−a), a in [0, 1]
 * - hinge: 1 if τ ≤ b, else 1/(a(τ − b) + 1)
 * - threshold: 1 if τ ≤ cutoff, else `value`
 */
export type StalenessFn =
  | { readonly kind: 'constant' }
  | { readonly kind: 'polynomial'; readonly a: number }
  | { readonly kind: 'hinge'; readonly a: number; readonly b: number }
  | { readonly kind: 'threshold'; readonly cutoff: number; readonly value: number };

/** Example weights e(n): 1, n, √n or log10(1 + n). */
export type ExampleWeight = 'one' | 'n' | 'sqrt' | 'log';

export function stalenessWeight(fn: StalenessFn, tau: number): number {
  if (!Number.isInteger(tau) || tau < 0) throw new AggregatorError('AGG_CONFIG', `staleness ${tau} is not a non-negative integer`);
  switch (fn.kind) {
    case 'constant':
      return 1;
    case 'polynomial':
      return Math.pow(1 + tau, -fn.a);
    case 'hinge':
      return tau <= fn.b ? 1 : 1 / (fn.a * (tau - fn.b) + 1);
    case 'threshold':
      return tau <= fn.cutoff ? 1 : fn.value;
  }
}

export function exampleWeight(kind: ExampleWeight, n: number): number {
  switch (kind) {
    case 'one':
      return 1;
    case 'n':
      return n;
    case 'sqrt':
      return Math.sqrt(n);
    case 'log':
      return Math.log10(1 + n);
  }
}

export function checkStaleness(fn: StalenessFn): void {
  const bad = (why: string) => new AggregatorError('AGG_CONFIG', `staleness ${fn.kind}: ${why}`);
  switch (fn.kind) {
    case 'constant':
      return;
    case 'polynomial':
      if (!(fn.a >= 0 && fn.a <= 1)) throw bad(`a = ${fn.a}, expected a number in [0, 1]`);
      return;
    case 'hinge':
      if (!(fn.a >= 0) || !Number.isFinite(fn.a) || !(fn.b >= 0) || !Number.isFinite(fn.b)) throw bad(`a = ${fn.a}, b = ${fn.b}, expected finite numbers >= 0`);
      return;
    case 'threshold':
      if (!(fn.cutoff >= 0) || !Number.isFinite(fn.value) || fn.value < 0) throw bad(`cutoff = ${fn.cutoff}, value = ${fn.value}`);
      return;
    default:
      throw new AggregatorError('AGG_CONFIG', `unknown staleness function "${(fn as { kind: string }).kind}"`);
  }
}
