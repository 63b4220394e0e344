import type { AxisSelection } from '../slice/slice.js';
import { ModelError } from './errors.js';

/**
 * Which units of a layer a narrowed sub-network keeps (spec 6). HeteroFL keeps the leading
 * ⌈dim·r⌉ units; FedRolex keeps a window of the same size that rolls by one unit per round:
 * the paper's S_r = {(r + i) mod K : i < k}, or its code's torch.roll(arange(K), r)[:k], which
 * starts at (−r) mod K (same coverage over K rounds, other direction).
 */
export type WidthMode = 'heterofl' | 'fedrolex';
export type RollVariant = 'paper' | 'code';

export interface WidthSelection {
  readonly mode: WidthMode;
  /** FedRolex's round number r (default 0). */
  readonly round?: number;
  readonly variant?: RollVariant;
}

export const HETEROFL: WidthSelection = Object.freeze({ mode: 'heterofl' });

/** ⌈dim·ratio⌉ units (at least 1), with ratio in (0, 1]. */
export function unitsFor(dim: number, ratio: number, what = 'width'): number {
  if (!(ratio > 0 && ratio <= 1)) throw new ModelError('MODEL_SLICE', `${what} ratio ${ratio} is not in (0, 1]`);
  // The epsilon keeps 200·0.35 = 70.00000000000001 from rounding up to 71.
  return Math.max(1, Math.ceil(dim * ratio - 1e-9));
}

/** Where FedRolex's window starts in round r. */
export function rollingStart(dim: number, round: number, variant: RollVariant = 'paper'): number {
  if (!Number.isSafeInteger(round) || round < 0) throw new ModelError('MODEL_SLICE', `round ${round} must be a non-negative integer`);
  const r = round % dim;
  return variant === 'paper' ? r : (dim - r) % dim;
}

/** The axis selection keeping k of dim units. */
export function selectUnits(dim: number, k: number, sel: WidthSelection = HETEROFL): AxisSelection {
  if (!Number.isInteger(k) || k < 1 || k > dim) throw new ModelError('MODEL_SLICE', `cannot keep ${k} of ${dim} units`);
  if (k === dim) return { kind: 'all' };
  if (sel.mode === 'heterofl') return { kind: 'range', start: 0, end: k };
  return { kind: 'window', start: rollingStart(dim, sel.round ?? 0, sel.variant), length: k };
}

/** The kept unit indices, in local order. */
export function unitIndices(dim: number, k: number, sel: WidthSelection = HETEROFL): number[] {
  const s = selectUnits(dim, k, sel);
  if (s.kind === 'range') return Array.from({ length: s.end - s.start }, (_, i) => s.start + i);
  if (s.kind === 'window') return Array.from({ length: s.length }, (_, i) => (s.start + i) % dim);
  return Array.from({ length: dim }, (_, i) => i);
}

/**
 * Kept indices of a heads × headDim axis: the first `heads` heads, and in each of them the
 * kept units of its headDim (leading dims of EACH head, spec 6), head after head.
 */
export function headIndices(headDim: number, heads: number, keptDim: number, sel: WidthSelection = HETEROFL): number[] {
  const inHead = unitIndices(headDim, keptDim, sel);
  const out: number[] = [];
  for (let h = 0; h < heads; h++) for (const i of inHead) out.push(h * headDim + i);
  return out;
}

/** An index list as an axis selection ('all' when it is the whole axis in order). */
export function indexSelection(indices: readonly number[], dim: number): AxisSelection {
  if (indices.length === dim && indices.every((v, i) => v === i)) return { kind: 'all' };
  return { kind: 'indices', indices: [...indices] };
}
