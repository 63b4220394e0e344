import type { ParamSet } from '@fednode/core';
import { expectSameLayout } from './checks.js';
import { addRowProducts, coordinateAscent, type WeightMatchingOptions } from './coordinate-ascent.js';
import { layerShapes, permuteMlp, type LayerShape, type MlpLayer } from './permutation.js';

export type { WeightMatchingOptions } from './coordinate-ascent.js';

export interface WeightMatchingResult {
  /** One per hidden layer: unit i of π(B)'s layer l is unit permutations[l][i] of B's. */
  readonly permutations: Int32Array[];
  /** π(B), aligned to A; see {@link permuteMlp}. */
  readonly permuted: ParamSet;
  /** Sweeps run, including the last one that found nothing to improve. */
  readonly sweeps: number;
  /** True when a sweep improved no layer by more than 1e-12 (false: maxSweeps ran out). */
  readonly converged: boolean;
}

/**
 * Weight matching (git re-basin, spec section 8) for an MLP described by `layers` in order:
 * permutes B's hidden units to maximise Σ_w ⟨A_w, π(B)_w⟩. Starting from identities, each
 * sweep visits the hidden layers in a seeded random order; for layer l it forms
 * S = Σ A_w·B_wᵀ over the weights that touch P_l (W_l's rows, b_l, W_{l+1}'s columns, each
 * seen as n_l rows), with B's other permutations already applied, and sets P_l to the
 * linear assignment maximising tr(P·S). It stops after a sweep where no layer improved by
 * more than 1e-12, or after `maxSweeps`.
 *
 * S is accumulated in float64 in a fixed order, so the result is deterministic.
 *
 * @throws MergeError MERGE_LAYOUT if the layouts differ or a named tensor is missing;
 *   MERGE_ARGUMENT for bad layers, maxSweeps or seed.
 */
export function weightMatching(
  a: ParamSet,
  b: ParamSet,
  layers: readonly MlpLayer[],
  opts: WeightMatchingOptions = {},
): WeightMatchingResult {
  expectSameLayout(a, b, 'b');
  const shapes = layerShapes(a, layers);
  const hidden = layers.length - 1;
  const { perms, sweeps, converged } = coordinateAscent(
    Array.from({ length: hidden }, (_, l) => shapes[l].out),
    opts,
    (l, current) => similarity(a, b, layers, shapes, current, l),
  );
  return { permutations: perms, permuted: permuteMlp(b, layers, perms), sweeps, converged };
}

/**
 * Merges two MLPs after aligning B to A: (θ_A + π(θ_B))/2, every tensor (aligned or not)
 * averaged in float64 and rounded once.
 */
export function mergeWithWeightMatching(
  a: ParamSet,
  b: ParamSet,
  layers: readonly MlpLayer[],
  opts: WeightMatchingOptions = {},
): ParamSet {
  const { permuted } = weightMatching(a, b, layers, opts);
  const out = a.zerosLike();
  const x = a.data;
  const y = permuted.data;
  const o = out.data;
  for (let j = 0; j < o.length; j++) o[j] = (x[j] + y[j]) / 2;
  return out;
}


/**
 * S[i, j] = Σ_d X[i, d]·Y[j, d] for hidden layer l, where row i of X gathers everything of A
 * attached to unit i (row i of W_l, b_l[i], column i of W_{l+1}) and row j of Y the same of
 * B with the neighbouring permutations applied (W_l's columns by P_{l−1}, W_{l+1}'s rows by
 * P_{l+1}; the last layer's rows are never permuted).
 */
function similarity(
  a: ParamSet,
  b: ParamSet,
  layers: readonly MlpLayer[],
  shapes: readonly LayerShape[],
  perms: readonly Int32Array[],
  l: number,
): Float64Array {
  const n = shapes[l].out;
  const inDim = shapes[l].in;
  const next = shapes[l + 1].out;
  const bias = layers[l].bias;
  const width = inDim + (bias === undefined ? 0 : 1) + next;
  const x = new Float64Array(n * width);
  const y = new Float64Array(n * width);
  const prev = l > 0 ? perms[l - 1] : null;
  const after = l + 1 < perms.length ? perms[l + 1] : null;
  const aw = a.tensor(layers[l].weight);
  const bw = b.tensor(layers[l].weight);
  const an = a.tensor(layers[l + 1].weight);
  const bn = b.tensor(layers[l + 1].weight);
  const ab = bias === undefined ? null : a.tensor(bias);
  const bb = bias === undefined ? null : b.tensor(bias);
  for (let i = 0; i < n; i++) {
    const row = i * width;
    for (let c = 0; c < inDim; c++) {
      x[row + c] = aw[i * inDim + c];
      y[row + c] = bw[i * inDim + (prev === null ? c : prev[c])];
    }
    let d = row + inDim;
    if (ab !== null && bb !== null) {
      x[d] = ab[i];
      y[d] = bb[i];
      d++;
    }
    for (let r = 0; r < next; r++) {
      x[d + r] = an[r * n + i];
      y[d + r] = bn[(after === null ? r : after[r]) * n + i];
    }
  }
  const s = new Float64Array(n * n);
  addRowProducts(x, y, n, width, s);
  return s;
}
