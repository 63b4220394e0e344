import { KernelError, expectFinite } from '../errors.js';
import { expectArrayList, nanError } from './checks.js';
import { insertionSort, selectKth } from './select.js';

/**
 * Coordinate-wise robust reducers over N equal-length arrays. Each coordinate's N values are
 * gathered into a float64 scratch of length N (allocated once per call). NaN is rejected
 * (KERNEL_NON_FINITE) because it has no place in an order; −0 is gathered as +0 so that the
 * result is bit-identical for every ordering of the arrays. A NaN is found while `out` is
 * being written, so after that error `out` is partly overwritten.
 */

/** Default trimming fraction β of {@link trimmedMean} (Flower's FedTrimmedAvg). */
export const DEFAULT_TRIM_BETA = 0.2;

/** Largest N sorted by insertion; above it the built-in typed-array sort measured faster. */
const INSERTION_MAX = 32;

/**
 * out[j] ← median over i of xs[i][j]; for even N, the mean of the two middle values.
 * At least one array; all arrays and `out` share one length; `out` may be one of `xs`.
 * Uses quickselect per coordinate (faster than sorting from N = 20 up).
 */
export function coordinateMedian(xs: readonly Float32Array[], out: Float32Array): void {
  const n = out.length;
  expectArrayList('xs', xs, n);
  const count = xs.length;
  const v = new Float64Array(count);
  const h = count >> 1;
  const odd = (count & 1) === 1;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < count; i++) {
      const x = xs[i][j];
      if (x !== x) throw nanError('xs', i, j);
      v[i] = x + 0;
    }
    selectKth(v, 0, count - 1, h);
    if (odd) {
      out[j] = v[h];
    } else {
      // After selecting position h, the lower middle is the largest value before it.
      let lower = v[0];
      for (let i = 1; i < h; i++) if (v[i] > lower) lower = v[i];
      out[j] = (lower + v[h]) / 2;
    }
  }
}

/**
 * out[j] ← mean of xs[·][j] after dropping the c = ⌊β·N⌋ smallest and c largest values.
 * β is finite and ≥ 0, and 2c < N (KERNEL_BAD_ARGUMENT otherwise); {@link DEFAULT_TRIM_BETA}
 * is Flower's default. The kept values are summed in ascending order in float64, so the
 * result does not depend on the order of the arrays. All arrays and `out` share one length;
 * `out` may be one of `xs`.
 */
export function trimmedMean(xs: readonly Float32Array[], beta: number, out: Float32Array): void {
  const n = out.length;
  expectArrayList('xs', xs, n);
  expectFinite('beta', beta);
  const count = xs.length;
  if (beta < 0) throw new KernelError('KERNEL_BAD_ARGUMENT', `beta is ${beta}, expected >= 0`);
  const c = Math.floor(beta * count);
  if (2 * c >= count) {
    throw new KernelError('KERNEL_BAD_ARGUMENT', `beta is ${beta}: trims ${c} from each end of ${count} values, leaving none`);
  }
  const v = new Float64Array(count);
  const hi = count - c;
  const kept = count - 2 * c;
  const small = count <= INSERTION_MAX;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < count; i++) {
      const x = xs[i][j];
      if (x !== x) throw nanError('xs', i, j);
      v[i] = x + 0;
    }
    if (small) insertionSort(v, 0, count);
    else v.sort();
    let s = 0;
    for (let i = c; i < hi; i++) s += v[i];
    out[j] = s / kept;
  }
}
