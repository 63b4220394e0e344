/**
 * Small in-place order statistics on float64 scratch, shared by the robust reducers and Krum.
 * NaN must be excluded by the caller: every routine here assumes a total order.
 */

/** Sorts v[lo, hi) ascending by insertion; the fastest choice measured for ≤ 32 values. */
export function insertionSort(v: Float64Array, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const x = v[i];
    let k = i - 1;
    while (k >= lo && v[k] > x) {
      v[k + 1] = v[k];
      k--;
    }
    v[k + 1] = x;
  }
}

/**
 * Rearranges v[lo, hi] (inclusive) so that v[k] holds the value it would hold if sorted,
 * with everything before it ≤ v[k] and everything after it ≥ v[k] (Hoare partitioning,
 * median-of-three pivot). Linear on average; measured faster than sorting from 20 values up.
 */
export function selectKth(v: Float64Array, lo: number, hi: number, k: number): void {
  while (hi > lo) {
    if (hi - lo < 8) {
      insertionSort(v, lo, hi + 1);
      return;
    }
    const a = v[lo];
    const b = v[(lo + hi) >> 1];
    const c = v[hi];
    const p = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (v[i] < p) i++;
      while (v[j] > p) j--;
      if (i <= j) {
        const t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}
