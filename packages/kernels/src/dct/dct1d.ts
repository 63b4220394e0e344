import type { ChunkKernel } from './chunk-kernel.js';
import { expectLength } from '../errors.js';
import { forwardKernel, inverseKernel } from './kernels.js';
import { expectChunk, expectSameOrDisjoint } from './validate.js';

function run1d(src: Float32Array, chunk: number, dst: Float32Array, kernel: (c: number) => ChunkKernel): void {
  expectChunk('chunk', chunk, src.length);
  expectLength('dst', dst.length, src.length);
  expectSameOrDisjoint('dst', src, dst);
  const k = kernel(chunk);
  const n = src.length;
  for (let off = 0; off < n; off += chunk) k(src, off, 1, dst, off, 1);
}

/**
 * Orthonormal DCT-II of every contiguous chunk of `chunk` elements of `src`, into `dst`:
 * X[k] = α_k·Σ_i x[i]·cos(π(2i+1)k/2c), α_0 = √(1/c), α_k = √(2/c) (scipy's `dct(norm='ortho')`).
 * Coefficient k of chunk j lands at dst[j·chunk + k]. `dst` may be `src` (in place).
 * Power-of-two chunks 2..256 use generated O(c log c) code; other sizes a cached c×c table.
 *
 * @throws KernelError KERNEL_BLOCK_SIZE unless chunk is an integer >= 1 dividing src.length;
 *   KERNEL_LENGTH_MISMATCH if dst.length differs; KERNEL_BAD_ARGUMENT if dst partially overlaps src.
 */
export function dctForward1d(src: Float32Array, chunk: number, dst: Float32Array): void {
  run1d(src, chunk, dst, forwardKernel);
}

/**
 * Orthonormal DCT-III, the exact inverse of {@link dctForward1d}, per chunk:
 * x[i] = Σ_k α_k·X[k]·cos(π(2i+1)k/2c). `dst` may be `src` (in place).
 *
 * @throws KernelError as dctForward1d.
 */
export function dctInverse1d(src: Float32Array, chunk: number, dst: Float32Array): void {
  run1d(src, chunk, dst, inverseKernel);
}
