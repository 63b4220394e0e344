import type { Value } from './graph.js';
import { add, mul, reduceSum, sub } from './ops/index.js';

/**
 * FedProx's proximal term (Li et al. 2020): loss + mu/2 · Σ ||w − w_anchor||², with the anchor
 * (the round's global model) and mu as graph inputs, so the gradient of the term comes out of
 * the same autodiff as the loss's and one training graph serves every round and every mu.
 */
export interface ProximalLoss {
  readonly loss: Value;
  /** Input name of the scalar mu. */
  readonly mu: string;
  /** Input name of each parameter's anchor, by parameter name. */
  readonly anchors: ReadonlyMap<string, string>;
}

export const PROXIMAL_MU = 'prox.mu';
export const anchorName = (param: string): string => `${param}.anchor`;

export function withProximalTerm(loss: Value, params: readonly Value[]): ProximalLoss {
  const g = loss.graph;
  const mu = g.input(PROXIMAL_MU, []);
  const anchors = new Map<string, string>();
  let total: Value | null = null;
  for (const p of params) {
    const a = g.input(anchorName(p.name), p.shape);
    anchors.set(p.name, a.name);
    const d = sub(p, a);
    const sq = reduceSum(mul(d, d));
    total = total === null ? sq : add(total, sq);
  }
  if (total === null) return { loss, mu: mu.name, anchors };
  return { loss: add(loss, mul(mul(mu, g.scalar(0.5)), total)), mu: mu.name, anchors };
}
