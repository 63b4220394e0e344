/**
 * Exact top-k by magnitude in O(n): a two-level radix select on float32 bit patterns.
 *
 * For a float32, (bits & 0x7fffffff) orders exactly as |x| does, so the k-th largest
 * magnitude is found from a histogram of the top 16 of those 31 bits followed by one of the
 * low 15 bits inside the bucket that holds it: two passes, no sort, no data movement. The
 * result is a threshold key T and a cut index c: an entry is kept when its key is > T, or
 * equal to T and at an index < c, where c is just past the last tie that fits in k (ties are
 * broken by the lower index). The keep test is thus a pure function of (key, index), which
 * callers evaluate without branches or running state.
 */

/** Key of every non-finite float32 and above: NaN and ±Infinity sort above all finite values. */
export const NON_FINITE_KEY = 0x7f800000;

const LO_BITS = 15;
const HI_BUCKETS = 1 << 16;
const LO_BUCKETS = 1 << LO_BITS;
const LO_MASK = LO_BUCKETS - 1;
const FIRST_NON_FINITE_BUCKET = NON_FINITE_KEY >>> LO_BITS;

// Scratch reused across calls and left zeroed: the merge runs once per tensor and model.
const hi = new Int32Array(HI_BUCKETS);
const lo = new Int32Array(LO_BUCKETS);

export interface Threshold {
  /** Keep keys strictly above this; -1 keeps everything, 0x7fffffff nothing. */
  readonly key: number;
  /** Entries whose key equals `key` are kept at indices below this. */
  readonly cut: number;
  /** Whether any entry is NaN or ±Infinity (the threshold is then meaningless). */
  readonly nonFinite: boolean;
}

/**
 * The exact top-k threshold of |x| for the float32 values whose bits are `bits[0, n)` (an
 * Int32Array view of a Float32Array). `k` must be an integer in [0, n]. Every entry is
 * read at least once, so non-finite values are always reported.
 */
export function topkThreshold(bits: Int32Array, n: number, k: number): Threshold {
  // Separate, simple loops: V8 runs a histogram loop at about 1.3 ns per element, and
  // fusing it with the producer of `bits` (a float store read back as int) ran at 7.
  for (let j = 0; j < n; j++) hi[(bits[j] & 0x7fffffff) >>> LO_BITS]++;
  let nonFinite = false;
  for (let b = FIRST_NON_FINITE_BUCKET; b < HI_BUCKETS; b++) if (hi[b] !== 0) nonFinite = true;
  let result: Threshold;
  if (k <= 0 || nonFinite) result = { key: 0x7fffffff, cut: 0, nonFinite };
  else if (k >= n) result = { key: -1, cut: 0, nonFinite };
  else {
    let above = 0;
    let b = HI_BUCKETS - 1;
    while (above + hi[b] < k) above += hi[b--];
    for (let j = 0; j < n; j++) {
      const key = bits[j] & 0x7fffffff;
      if (key >>> LO_BITS === b) lo[key & LO_MASK]++;
    }
    let l = LO_BUCKETS - 1;
    while (above + lo[l] < k) above += lo[l--];
    const key = (b << LO_BITS) | l;
    const quota = k - above;
    // Usually every tie fits (quota = all of them); only a split tie group needs a scan.
    const cut = quota === lo[l] ? n : tieCut(bits, n, key, quota);
    clear(lo, bits, n, LO_MASK, 0);
    result = { key, cut, nonFinite };
  }
  clear(hi, bits, n, 0x7fffffff, LO_BITS);
  return result;
}

/** The index just past the `quota`-th entry whose key is `key` (0 when quota is 0). */
function tieCut(bits: Int32Array, n: number, key: number, quota: number): number {
  if (quota === 0) return 0;
  let seen = 0;
  for (let j = 0; j < n; j++) if ((bits[j] & 0x7fffffff) === key && ++seen === quota) return j + 1;
  return n;
}

/**
 * 1 when the entry with float32 bits `w` at `index` is kept by threshold (`key`, `cut`) and
 * is non-zero, else 0; integer arithmetic only, no branch. `key - k` cannot overflow: both
 * lie in [-1, 2^31 - 1]. A key of -1 makes every (key ^ k) negative, and its cut is 0.
 */
export function keepBit(w: number, index: number, key: number, cut: number): number {
  const k = w & 0x7fffffff;
  const above = (key - k) >>> 31;
  const tie = (((key ^ k) - 1) >>> 31) & ((index - cut) >>> 31);
  return (above | tie) & (-k >>> 31);
}

/** Zeroes `hist` by walking the keys when that touches less memory than a fill. */
function clear(hist: Int32Array, bits: Int32Array, n: number, mask: number, shift: number): void {
  if (n < hist.length / 4) for (let j = 0; j < n; j++) hist[((bits[j] & 0x7fffffff) & mask) >>> shift] = 0;
  else hist.fill(0);
}
