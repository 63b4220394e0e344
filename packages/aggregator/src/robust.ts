import { coordinateMedian, trimmedMean, pairwiseSquaredDistances, krumScores, krumSelect, weightedSum, DEFAULT_TRIM_BETA } from '@fednode/kernels';
import { AggregatorError } from './errors.js';

/**
 * Robust replacements for the weighted mean (spec 9), over whole-model deltas:
 * coordinate-wise median, trimmed mean (β, default 0.2), Krum (the update with the lowest
 * score, f assumed attackers) and Multi-Krum (the mean of the m lowest-scoring updates,
 * example-weighted as Flower or plain as the paper).
 */
export type RobustConfig =
  | { readonly kind: 'median' }
  | { readonly kind: 'trimmed-mean'; readonly beta?: number }
  | { readonly kind: 'krum'; readonly f: number }
  | { readonly kind: 'multi-krum'; readonly f: number; readonly m: number };

export function checkRobust(c: RobustConfig): void {
  const int = (v: number) => Number.isInteger(v) && v >= 0;
  switch (c.kind) {
    case 'median':
      return;
    case 'trimmed-mean':
      if (c.beta !== undefined && !(c.beta >= 0 && c.beta < 0.5)) throw new AggregatorError('AGG_CONFIG', `trimmed-mean beta ${c.beta} outside [0, 0.5)`);
      return;
    case 'krum':
      if (!int(c.f)) throw new AggregatorError('AGG_CONFIG', `krum f ${c.f} is not a non-negative integer`);
      return;
    case 'multi-krum':
      if (!int(c.f) || !int(c.m) || c.m < 1) throw new AggregatorError('AGG_CONFIG', `multi-krum f ${c.f}, m ${c.m}: expected integers, m >= 1`);
      return;
    default:
      throw new AggregatorError('AGG_CONFIG', `unknown robust aggregation "${(c as { kind: string }).kind}"`);
  }
}

/** Combines whole-model deltas into `out`; returns the indices of the updates used (all, for the coordinate-wise rules). */
export function robustCombine(c: RobustConfig, deltas: readonly Float32Array[], weights: readonly number[], out: Float32Array): number[] {
  const n = deltas.length;
  switch (c.kind) {
    case 'median':
      coordinateMedian(deltas, out);
      return deltas.map((_, i) => i);
    case 'trimmed-mean':
      trimmedMean(deltas, c.beta ?? DEFAULT_TRIM_BETA, out);
      return deltas.map((_, i) => i);
    case 'krum':
    case 'multi-krum': {
      if (n < 2) throw new AggregatorError('AGG_NOT_READY', `${c.kind} needs at least 2 updates, has ${n}`);
      const d = new Float64Array(n * n);
      pairwiseSquaredDistances(deltas, d);
      const scores = new Float64Array(n);
      krumScores(d, n, Math.min(c.f, n), scores);
      const chosen = new Uint32Array(c.kind === 'krum' ? 1 : Math.min(c.m, n));
      krumSelect(scores, chosen);
      const picked = [...chosen];
      const w = picked.map((i) => weights[i]);
      const total = w.reduce((a, b) => a + b, 0);
      weightedSum(
        picked.map((i) => deltas[i]),
        w.map((x) => x / total),
        out,
      );
      return picked;
    }
  }
}
