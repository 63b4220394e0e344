import { MergeError } from './errors.js';

export interface Assignment {
  /** Column assigned to each row: a permutation of 0..n−1. */
  readonly cols: Int32Array;
  /** Σᵢ matrix[i, cols[i]], summed in float64 in row order. */
  readonly value: number;
}

/**
 * Linear assignment on a dense n×n float64 matrix (row-major): the permutation minimising
 * (or, with `maximize`, maximising) Σᵢ matrix[i, cols[i]].
 *
 * The Hungarian method in its shortest-augmenting-path form (Jonker–Volgenant style, with
 * row and column potentials): each row is added by a Dijkstra-like search over reduced costs,
 * O(n²) per row and O(n³) in all, with O(n) extra memory. Deterministic: ties are broken by
 * the lowest column index. Written here rather than taken from a package because git
 * re-basin needs only this one dense solver, and owning it keeps the aggregator dependency-free.
 *
 * @throws MergeError MERGE_ARGUMENT unless n is a non-negative integer and the matrix has
 *   n·n finite entries.
 */
export function linearAssignment(matrix: Float64Array, n: number, opts: { maximize?: boolean } = {}): Assignment {
  if (!Number.isSafeInteger(n) || n < 0) throw new MergeError('MERGE_ARGUMENT', `is ${n}, expected an integer >= 0`, 'n');
  if (!(matrix instanceof Float64Array) || matrix.length !== n * n) {
    throw new MergeError('MERGE_ARGUMENT', `expected a Float64Array of ${n}·${n} entries`, 'matrix');
  }
  // Costs are shifted to be non-negative (max − x when maximising, x − min otherwise): the
  // optimum is unchanged and the potentials stay small and well-scaled.
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < matrix.length; k++) {
    const x = matrix[k];
    if (!Number.isFinite(x)) {
      throw new MergeError('MERGE_ARGUMENT', `entry (${Math.floor(k / n)}, ${k % n}) is ${x}, expected a finite number`, 'matrix');
    }
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const maximize = opts.maximize === true;
  const cost = new Float64Array(n * n);
  for (let k = 0; k < cost.length; k++) cost[k] = maximize ? hi - matrix[k] : matrix[k] - lo;

  // 1-based internally: column 0 is the virtual column the new row starts from.
  const u = new Float64Array(n + 1); // row potentials
  const v = new Float64Array(n + 1); // column potentials
  const rowOf = new Int32Array(n + 1); // row matched to column j (0 = none)
  const way = new Int32Array(n + 1); // previous column on the shortest path
  const minv = new Float64Array(n + 1);
  const used = new Uint8Array(n + 1);
  for (let i = 1; i <= n; i++) {
    rowOf[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = rowOf[j0];
      const row = (i0 - 1) * n - 1; // cost[row + j] is cost(i0, j) for 1-based j
      const ui = u[i0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j] !== 0) continue;
        const cur = cost[row + j] - ui - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j] !== 0) {
          u[rowOf[j]] += delta;
          v[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (rowOf[j0] !== 0);
    // Augment along the path back to the virtual column.
    do {
      const j1 = way[j0];
      rowOf[j0] = rowOf[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const cols = new Int32Array(n);
  for (let j = 1; j <= n; j++) cols[rowOf[j] - 1] = j - 1;
  let value = 0;
  for (let i = 0; i < n; i++) value += matrix[i * n + cols[i]];
  return { cols, value };
}
