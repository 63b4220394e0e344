import { KernelError, expectIntInRange, expectLength } from '../errors.js';
import { forwardKernel } from './kernels.js';
import { topkChunks } from './topk.js';
import { expectIndexArray, expectPositiveInt } from './validate.js';

let tileScratch = new Float32Array(0);

/**
 * DeMo's encode in one pass over the tensor: the 2-D orthonormal DCT of each c1×c2 tile
 * (as {@link dctForward2d}) followed by the top-k of that tile's coefficients (as
 * {@link topkChunks} on the block-major output), without writing the full coefficient
 * array. Each tile is transformed in a small scratch that stays in cache, so the selection
 * reads it for free. Tile t's k (index, value) pairs land at [t·k, (t+1)·k), indices
 * row-major within the tile and ascending.
 *
 * @throws KernelError as dctForward2d and topkChunks (KERNEL_NON_FINITE for NaN/Infinity).
 */
export function dctForward2dTopk(
  src: Float32Array,
  rows: number,
  cols: number,
  c1: number,
  c2: number,
  k: number,
  idx: Uint8Array | Uint16Array,
  val: Float32Array,
): void {
  expectPositiveInt('rows', rows);
  expectPositiveInt('cols', cols);
  if (!Number.isInteger(c1) || c1 < 1 || rows % c1 !== 0 || !Number.isInteger(c2) || c2 < 1 || cols % c2 !== 0) {
    throw new KernelError('KERNEL_BLOCK_SIZE', `tile ${c1}x${c2} does not divide ${rows}x${cols}`);
  }
  expectLength('src', src.length, rows * cols);
  const tile = c1 * c2;
  expectIntInRange('k', k, 1, tile);
  expectIndexArray('idx', idx, tile);
  const tiles = src.length / tile;
  expectLength('idx', idx.length, tiles * k);
  expectLength('val', val.length, tiles * k);
  if (tileScratch.length < tile) tileScratch = new Float32Array(tile);
  const t = tileScratch.subarray(0, tile);
  const rowK = forwardKernel(c2);
  const colK = forwardKernel(c1);
  let n = 0;
  for (let b0 = 0; b0 < src.length; b0 += c1 * cols) {
    for (let tc = 0; tc < cols; tc += c2, n++) {
      for (let r = 0; r < c1; r++) rowK(src, b0 + r * cols + tc, 1, t, r * c2, 1);
      for (let j = 0; j < c2; j++) colK(t, j, c2, t, j, c2);
      try {
        topkChunks(t, tile, k, idx.subarray(n * k, (n + 1) * k), val.subarray(n * k, (n + 1) * k));
      } catch (e) {
        if (e instanceof KernelError && e.code === 'KERNEL_NON_FINITE') {
          throw new KernelError('KERNEL_NON_FINITE', `tile ${n} (rows ${b0 / cols}.., column ${tc}..) holds a NaN or Infinity`);
        }
        throw e;
      }
    }
  }
}
