import { KernelError, expectIntInRange, expectLength } from '../errors.js';
import { MAX_CHUNK, expectChunk, expectIndexArray } from './validate.js';

/**
 * Decoding side of DeMo's top-k: (idx, val) lists come off the network, so every pair is
 * checked (index in range, value finite, no index twice in one chunk) before anything is
 * written, and a bad list leaves the outputs untouched.
 */

// stamp[i] = number of the last chunk that selected index i; a repeat within a chunk is a duplicate.
let stamp = new Float64Array(0);

function checkShape(
  idx: Uint8Array | Uint16Array,
  val: Float32Array,
  chunk: number,
  k: number,
  denseLength: number,
  denseName: string,
): number {
  expectChunk('chunk', chunk, denseLength, MAX_CHUNK);
  expectIntInRange('k', k, 1, chunk);
  expectIndexArray('idx', idx, chunk);
  const nChunks = denseLength / chunk;
  if (idx.length !== nChunks * k) {
    throw new KernelError(
      'KERNEL_LENGTH_MISMATCH',
      `idx: length ${idx.length}, expected ${nChunks * k} (${denseName}.length / chunk · k)`,
    );
  }
  expectLength('val', val.length, idx.length);
  return nChunks;
}

/**
 * Checks every pair; with `count`, also that no selected position's counter would overflow.
 * Runs before any write so a hostile list cannot leave a half-applied update.
 */
function checkPairs(
  idx: Uint8Array | Uint16Array,
  val: Float32Array,
  chunk: number,
  k: number,
  count: Uint16Array | Uint32Array | null,
): void {
  if (stamp.length < chunk) stamp = new Float64Array(chunk);
  stamp.fill(-1, 0, chunk);
  const max = count instanceof Uint16Array ? 0xffff : 0xffffffff;
  for (let o = 0, c = 0, base = 0; o < idx.length; c++, base += chunk) {
    for (let j = 0; j < k; j++, o++) {
      const i = idx[o];
      if (i >= chunk) {
        throw new KernelError('KERNEL_BAD_ARGUMENT', `idx[${o}] is ${i}, expected an index below the chunk size ${chunk}`);
      }
      if (stamp[i] === c) {
        throw new KernelError('KERNEL_BAD_ARGUMENT', `idx[${o}] repeats index ${i} within chunk ${c}`);
      }
      stamp[i] = c;
      const v = val[o];
      if (v - v !== 0) throw new KernelError('KERNEL_NON_FINITE', `val[${o}] is ${v}, expected a finite number`);
      if (count !== null && count[base + i] === max) {
        throw new KernelError('KERNEL_BAD_ARGUMENT', `count[${base + i}] is already ${max}; use a wider count array`);
      }
    }
  }
}

/**
 * Inverse of topkChunks: zero-fills `dst` and writes each value at chunkBase + idx, where
 * chunk j's k pairs are idx/val[j·k, (j+1)·k) and chunkBase = j·chunk (block-major for 2-D).
 *
 * @throws KernelError KERNEL_BLOCK_SIZE unless chunk in [1, 65536] divides dst.length;
 *   KERNEL_BAD_ARGUMENT for k outside [1, chunk], the wrong index array type, an index
 *   >= chunk or repeated within a chunk (the message names the position);
 *   KERNEL_LENGTH_MISMATCH unless idx and val have (dst.length/chunk)·k entries;
 *   KERNEL_NON_FINITE for a non-finite value. dst is untouched when it throws.
 */
export function scatterChunks(
  idx: Uint8Array | Uint16Array,
  val: Float32Array,
  chunk: number,
  k: number,
  dst: Float32Array,
): void {
  checkShape(idx, val, chunk, k, dst.length, 'dst');
  checkPairs(idx, val, chunk, k, null);
  dst.fill(0);
  for (let o = 0, base = 0; o < idx.length; base += chunk) {
    for (let j = 0; j < k; j++, o++) dst[base + idx[o]] = val[o];
  }
}

/**
 * Adds one worker's top-k list into a running decode: sum[p] += value and count[p] += 1 at
 * every selected position p = j·chunk + idx. Call once per worker (self included), in a
 * fixed worker order for bit-identical sums, then meanOfSelected. This is DeMo's
 * scatter_reduce "mean" with include_self=False (spec section 4, step 7): a coefficient is
 * the mean of the values that selected it, not a division by the worker count.
 *
 * @throws KernelError as scatterChunks (with sum in place of dst), plus
 *   KERNEL_LENGTH_MISMATCH unless count.length === sum.length and KERNEL_BAD_ARGUMENT
 *   when a counter would overflow. sum and count are untouched when it throws.
 */
export function accumulateChunks(
  idx: Uint8Array | Uint16Array,
  val: Float32Array,
  chunk: number,
  k: number,
  sum: Float32Array,
  count: Uint16Array | Uint32Array,
): void {
  checkShape(idx, val, chunk, k, sum.length, 'sum');
  expectLength('count', count.length, sum.length);
  checkPairs(idx, val, chunk, k, count);
  for (let o = 0, base = 0; o < idx.length; base += chunk) {
    for (let j = 0; j < k; j++, o++) {
      const p = base + idx[o];
      sum[p] += val[o];
      count[p]++;
    }
  }
}

/**
 * Decoded coefficients: out[i] = sum[i] / count[i] where count[i] > 0, else 0 (a coefficient
 * nobody selected is zero). `out` may be `sum`.
 *
 * @throws KernelError KERNEL_LENGTH_MISMATCH unless count and out match sum's length.
 */
export function meanOfSelected(sum: Float32Array, count: Uint16Array | Uint32Array, out: Float32Array): void {
  expectLength('count', count.length, sum.length);
  expectLength('out', out.length, sum.length);
  for (let i = 0; i < sum.length; i++) {
    const c = count[i];
    out[i] = c > 0 ? sum[i] / c : 0;
  }
}
