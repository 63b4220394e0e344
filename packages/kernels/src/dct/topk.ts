import { KernelError, expectIntInRange, expectLength } from '../errors.js';
import { MAX_CHUNK, expectChunk, expectIndexArray } from './validate.js';

/**
 * Magnitudes are compared as integers: for a float32, (bits & 0x7fffffff) orders exactly as
 * |x| does, costs less than a float abs, and puts NaN and ±Infinity (>= 0x7f800000) above
 * every finite value, so a chunk holding one always selects it and one check of the
 * largest selected key per chunk catches every non-finite input.
 */
const NON_FINITE_KEY = 0x7f800000;

// Scratch reused across calls: the selection runs every step on the same shapes.
let keys = new Int32Array(0);
let slots = new Int32Array(0);
let mask = new Int32Array(0);

function grow(chunk: number, k: number): void {
  if (keys.length < chunk) keys = new Int32Array(chunk);
  if (slots.length < k) slots = new Int32Array(k);
  const words = (chunk + 31) >>> 5;
  if (mask.length < words) mask = new Int32Array(words);
}

/**
 * A zeroed index array of `length` entries of the type top-k uses for `chunk`:
 * Uint8Array when chunk <= 256, Uint16Array when 256 < chunk <= 65536.
 *
 * @throws KernelError KERNEL_BLOCK_SIZE for chunk outside [1, 65536];
 *   KERNEL_BAD_ARGUMENT for a length that is not an integer >= 0.
 */
export function topkIndexArray(chunk: number, length: number): Uint8Array | Uint16Array {
  expectChunk('chunk', chunk, 0, MAX_CHUNK);
  expectIntInRange('length', length, 0, Number.MAX_SAFE_INTEGER);
  return chunk <= 256 ? new Uint8Array(length) : new Uint16Array(length);
}

/**
 * Top-k by magnitude per chunk, DeMo's compression step (spec section 4, step 4). For each
 * contiguous chunk of `chunk` elements of `src` (a block-major DCT output for 2-D tensors),
 * selects the k entries of largest |x|; among equal magnitudes the lower index wins. Writes k
 * pairs per chunk, chunk j's at [j·k, (j+1)·k): idx = index within the chunk, val = the
 * signed value (bit-exact copy of src), in ascending index order.
 *
 * @param idx Uint8Array when chunk <= 256, Uint16Array when chunk <= 65536 (topkIndexArray).
 * @throws KernelError KERNEL_BLOCK_SIZE unless chunk in [1, 65536] divides src.length;
 *   KERNEL_BAD_ARGUMENT for k outside [1, chunk] or the wrong index array type;
 *   KERNEL_LENGTH_MISMATCH unless idx and val have (src.length/chunk)·k entries;
 *   KERNEL_NON_FINITE if src holds NaN or ±Infinity (earlier chunks are written by then).
 */
export function topkChunks(
  src: Float32Array,
  chunk: number,
  k: number,
  idx: Uint8Array | Uint16Array,
  val: Float32Array,
): void {
  expectChunk('chunk', chunk, src.length, MAX_CHUNK);
  expectIntInRange('k', k, 1, chunk);
  expectIndexArray('idx', idx, chunk);
  const nChunks = src.length / chunk;
  expectLength('idx', idx.length, nChunks * k);
  expectLength('val', val.length, nChunks * k);
  const bits = new Int32Array(src.buffer, src.byteOffset, src.length);
  grow(chunk, k);
  if (k === chunk) keepAll(src, bits, chunk, idx, val);
  // Insertion costs about k/2 moves for each of the ~k·(1 + ln(c/k)) elements that beat the
  // running threshold; quickselect costs several passes over the chunk. Measured crossover.
  else if (k * k * (1 + Math.log(chunk / k)) <= 5 * chunk) topkSmall(src, bits, chunk, k, idx, val);
  else topkSelect(src, bits, chunk, k, idx, val);
}

function nonFinite(src: Float32Array, pos: number): KernelError {
  return new KernelError('KERNEL_NON_FINITE', `src[${pos}] is ${src[pos]}, expected a finite number`);
}

function keepAll(src: Float32Array, bits: Int32Array, chunk: number, idx: Uint8Array | Uint16Array, val: Float32Array): void {
  for (let i = 0, j = 0; i < src.length; i++) {
    if ((bits[i] & 0x7fffffff) >= NON_FINITE_KEY) throw nonFinite(src, i);
    idx[i] = j;
    val[i] = src[i];
    if (++j === chunk) j = 0;
  }
}

/**
 * Small k: a descending buffer of the k best (key, index) pairs with an early-reject
 * threshold, so most elements cost one integer compare. A new key goes after equal keys
 * already held, which are earlier in the chunk, so ties keep the lower index. The chosen
 * indices are then emitted in ascending order through a bitmask.
 */
function topkSmall(
  src: Float32Array,
  bits: Int32Array,
  chunk: number,
  k: number,
  idx: Uint8Array | Uint16Array,
  val: Float32Array,
): void {
  const kb = keys;
  const ki = slots;
  const m = mask;
  const last = k - 1;
  const words = (chunk + 31) >>> 5;
  for (let base = 0, out = 0; base < src.length; base += chunk, out += k) {
    for (let j = 0; j < k; j++) kb[j] = -1;
    let thr = -1;
    for (let i = 0; i < chunk; i++) {
      const a = bits[base + i] & 0x7fffffff;
      if (a > thr) {
        let j = last;
        while (j > 0 && kb[j - 1] < a) {
          kb[j] = kb[j - 1];
          ki[j] = ki[j - 1];
          j--;
        }
        kb[j] = a;
        ki[j] = i;
        thr = kb[last];
      }
    }
    if (kb[0] >= NON_FINITE_KEY) throw nonFinite(src, base + ki[0]);
    for (let w = 0; w < words; w++) m[w] = 0;
    for (let j = 0; j < k; j++) {
      const i = ki[j];
      m[i >>> 5] |= 1 << (i & 31);
    }
    let o = out;
    for (let w = 0; w < words; w++) {
      let bitsLeft = m[w];
      while (bitsLeft !== 0) {
        const low = bitsLeft & -bitsLeft;
        const i = (w << 5) + 31 - Math.clz32(low);
        idx[o] = i;
        val[o++] = src[base + i];
        bitsLeft ^= low;
      }
    }
  }
}

/** The k-th largest (1-based) of a[0..len) by quickselect; leaves the k largest in a[0..k). */
function kthLargest(a: Int32Array, len: number, k: number): number {
  const nth = k - 1;
  let lo = 0;
  let hi = len - 1;
  while (hi > lo) {
    const x = a[lo];
    const y = a[(lo + hi) >>> 1];
    const z = a[hi];
    // Median of three keeps sorted or constant chunks from going quadratic.
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (nth <= j) hi = j;
    else if (nth >= i) lo = i;
    else return a[nth];
  }
  return a[nth];
}

/**
 * Large k: find the k-th largest key t by quickselect, then emit in index order every
 * element above t plus the first (k − #above) equal to t, which is the top k with ties to
 * the lower index.
 */
function topkSelect(
  src: Float32Array,
  bits: Int32Array,
  chunk: number,
  k: number,
  idx: Uint8Array | Uint16Array,
  val: Float32Array,
): void {
  const a = keys;
  for (let base = 0, out = 0; base < src.length; base += chunk, out += k) {
    for (let i = 0; i < chunk; i++) a[i] = bits[base + i] & 0x7fffffff;
    const t = kthLargest(a, chunk, k);
    let eq = 0;
    let top = 0;
    for (let j = 0; j < k; j++) {
      const v = a[j];
      if (v === t) eq++;
      if (v > top) top = v;
    }
    // The chunk's largest key is among the k selected, so this sees any NaN or Infinity.
    if (top >= NON_FINITE_KEY) throw nonFinite(src, base + firstNonFinite(bits, base, chunk));
    let o = out;
    for (let i = 0; i < chunk; i++) {
      const key = bits[base + i] & 0x7fffffff;
      if (key > t || (key === t && eq-- > 0)) {
        idx[o] = i;
        val[o++] = src[base + i];
      }
    }
  }
}

function firstNonFinite(bits: Int32Array, base: number, chunk: number): number {
  let i = 0;
  while (i < chunk - 1 && (bits[base + i] & 0x7fffffff) < NON_FINITE_KEY) i++;
  return i;
}
