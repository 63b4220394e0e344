import { clipByGlobalNorm } from '@fednode/kernels';
import type { ParamSet } from '@fednode/core';
import { AggregatorError, Refusal } from '../errors.js';
import { deltaNorm } from '../accumulator.js';
import type { Acceptance, ClientUpdate, UpdateHeader } from '../types.js';

export const ACCEPTED: Acceptance = Object.freeze({ accepted: true });

export function refusal(code: Refusal['code'], reason: string): Refusal {
  return new Refusal(code, reason);
}

export function refuse(r: Refusal): Acceptance {
  return { accepted: false, refusal: r };
}

/** Options every strategy shares: which run, and how much trust a delta's size gets. */
export interface UpdateGuards {
  /** Refuse updates whose run id (when they carry one) differs. */
  readonly runId?: string;
  /** Refuse deltas whose global L2 norm exceeds this. */
  readonly normBound?: number;
  /** Scale each delta down to at most this L2 norm before it is used (Flower's clipping). */
  readonly clipNorm?: number;
}

export function checkGuards(g: UpdateGuards): void {
  for (const k of ['normBound', 'clipNorm'] as const) {
    const v = g[k];
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new AggregatorError('AGG_CONFIG', `${k} is ${v}, expected a finite number > 0`);
  }
}

/** The guards' verdict from a header alone. */
export function guardHeader(g: UpdateGuards, h: UpdateHeader): Refusal | null {
  if (g.runId !== undefined && h.runId !== undefined && h.runId !== g.runId) return refusal('WRONG_RUN', `run "${h.runId}", this aggregator serves "${g.runId}"`);
  return null;
}

/** The guards' verdict on a decoded update (clipping happens later, on a copy: see `clipped`). */
export function guard(g: UpdateGuards, u: ClientUpdate): Refusal | null {
  const h = guardHeader(g, u);
  if (h !== null) return h;
  if (g.normBound !== undefined) {
    const n = deltaNorm(u);
    if (!(n <= g.normBound)) return refusal('NORM_BOUND', `delta norm ${n.toPrecision(4)} is over the bound ${g.normBound}`);
  }
  return null;
}

/** The update with its delta clipped to `clipNorm` (a copy when clipping changes it). Returns whether it was clipped. */
export function clipped(u: ClientUpdate, clipNorm: number | undefined): { update: ClientUpdate; wasClipped: boolean } {
  if (clipNorm === undefined) return { update: u, wasClipped: false };
  const delta: ParamSet = u.delta.clone();
  const { scale } = clipByGlobalNorm([delta.data], clipNorm);
  if (!(scale < 1)) return { update: u, wasClipped: false };
  // The wire tensors no longer decode to the delta.
  const { encoded: _wire, ...rest } = u;
  return { update: { ...rest, delta }, wasClipped: true };
}
