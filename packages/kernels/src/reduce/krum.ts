import { KernelError, expectIntInRange, expectLength } from '../errors.js';
import { expectArrayList } from './checks.js';
import { insertionSort } from './select.js';

/**
 * Krum and Multi-Krum (Blanchard et al.; Flower's aggregate_krum): pairwise squared
 * distances, scores, and the selection of the lowest-scoring updates. Average the selected
 * updates with weightedSum (plain mean as in the paper, or example counts as in Flower).
 */

/** Elements per block: all N arrays' blocks stay in L2 while every pair is visited. */
const BLOCK = 2048;

function squaredDistance(a: Float32Array, b: Float32Array, s: number, e: number): number {
  let s0 = 0;
  let s1 = 0;
  let j = s;
  for (; j + 1 < e; j += 2) {
    const d0 = a[j] - b[j];
    const d1 = a[j + 1] - b[j + 1];
    s0 += d0 * d0;
    s1 += d1 * d1;
  }
  if (j < e) {
    const d = a[j] - b[j];
    s0 += d * d;
  }
  return s0 + s1;
}

/**
 * out[i·N + j] ← ‖xs[i] − xs[j]‖², a symmetric N×N row-major matrix with a zero diagonal,
 * accumulated in float64 block by block in a fixed order. At least one array; all arrays share
 * one length; `out.length === N²`. NaN inputs give NaN distances (krumScores rejects them).
 */
export function pairwiseSquaredDistances(xs: readonly Float32Array[], out: Float64Array): void {
  if (!Array.isArray(xs) || xs.length < 1) throw new KernelError('KERNEL_BAD_ARGUMENT', 'xs: expected at least 1 array');
  const n = xs[0] instanceof Float32Array ? xs[0].length : 0;
  expectArrayList('xs', xs, n);
  const count = xs.length;
  expectLength('out', out.length, count * count);
  out.fill(0);
  for (let s = 0; s < n; s += BLOCK) {
    const e = s + BLOCK < n ? s + BLOCK : n;
    for (let i = 0; i < count; i++) {
      const a = xs[i];
      for (let j = i + 1; j < count; j++) out[i * count + j] += squaredDistance(a, xs[j], s, e);
    }
  }
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) out[j * count + i] = out[i * count + j];
  }
}

/**
 * out[i] ← sum of the max(1, n − f − 2) smallest distances[i·n + j] over j ≠ i, for the n×n
 * row-major matrix of squared distances (see {@link pairwiseSquaredDistances}); `f` is the
 * assumed number of Byzantine clients. The smallest distances are summed in ascending order.
 * n ≥ 2, 0 ≤ f ≤ n, `distances.length === n²`, `out.length === n`; a NaN distance throws
 * KERNEL_NON_FINITE.
 */
export function krumScores(distances: Float64Array, n: number, f: number, out: Float64Array): void {
  expectIntInRange('n', n, 2, Number.MAX_SAFE_INTEGER);
  expectIntInRange('f', f, 0, n);
  expectLength('distances', distances.length, n * n);
  expectLength('out', out.length, n);
  for (let i = 0; i < distances.length; i++) {
    const d = distances[i];
    if (d !== d) throw new KernelError('KERNEL_NON_FINITE', `distances[${i}] is NaN`);
  }
  const k = Math.max(1, n - f - 2);
  const v = new Float64Array(n - 1);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    let m = 0;
    for (let j = 0; j < n; j++) if (j !== i) v[m++] = distances[row + j];
    if (n - 1 <= 32) insertionSort(v, 0, n - 1);
    else v.sort();
    let s = 0;
    for (let j = 0; j < k; j++) s += v[j];
    out[i] = s;
  }
}

/**
 * Writes to `out` the indices of the `out.length` lowest scores, lowest first, ties broken by
 * the lower index: `out.length === 1` is Krum's choice, more is Multi-Krum's set.
 * 1 ≤ out.length ≤ scores.length; a NaN score throws KERNEL_NON_FINITE.
 */
export function krumSelect(scores: Float64Array, out: Uint32Array): void {
  const n = scores.length;
  expectIntInRange('out.length', out.length, 1, n);
  for (let i = 0; i < n; i++) {
    if (scores[i] !== scores[i]) throw new KernelError('KERNEL_NON_FINITE', `scores[${i}] is NaN`);
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (scores[a] < scores[b] ? -1 : scores[a] > scores[b] ? 1 : a - b));
  out.set(order.subarray(0, out.length));
}
