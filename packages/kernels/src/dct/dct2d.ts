import { KernelError, expectLength } from '../errors.js';
import { forwardKernel, inverseKernel } from './kernels.js';
import { aliases, expectPositiveInt, expectSameOrDisjoint } from './validate.js';

/**
 * Block-major layout: the (rows/c1)×(cols/c2) grid of c1×c2 tiles is stored tile after
 * tile in row-major order of the grid, each tile's c1·c2 values contiguous and row-major
 * within the tile. Top-k over contiguous chunks of c1·c2 then sees one tile per chunk and
 * its indices are DeMo's row-major-within-block indices.
 */

// Grown on demand and kept: the 2-D transforms run every step on the same shapes.
let bandScratch = new Float32Array(0);
let tileScratch = new Float32Array(0);

function scratchBand(n: number): Float32Array {
  if (bandScratch.length < n) bandScratch = new Float32Array(n);
  return bandScratch;
}

function scratchTile(n: number): Float32Array {
  if (tileScratch.length < n) tileScratch = new Float32Array(n);
  return tileScratch;
}

function check2d(src: Float32Array, rows: number, cols: number, c1: number, c2: number, dst: Float32Array): void {
  expectPositiveInt('rows', rows);
  expectPositiveInt('cols', cols);
  for (const [what, c, n] of [
    ['c1', c1, rows],
    ['c2', c2, cols],
  ] as const) {
    if (!Number.isInteger(c) || c < 1 || n % c !== 0) {
      throw new KernelError('KERNEL_BLOCK_SIZE', `${what} is ${c}, expected a positive integer dividing ${n}`);
    }
  }
  expectLength('src', src.length, rows * cols);
  expectLength('dst', dst.length, rows * cols);
  expectSameOrDisjoint('dst', src, dst);
}

/**
 * Position in the block-major layout of element (r, c) of a row-major rows×cols matrix
 * tiled into c1×c2 tiles (see dctForward2d). No validation: callers index hot loops with it.
 */
export function blockMajorIndex(r: number, c: number, cols: number, c1: number, c2: number): number {
  const tileRow = Math.floor(r / c1);
  const tileCol = Math.floor(c / c2);
  const tilesPerRow = cols / c2;
  return ((tileRow * tilesPerRow + tileCol) * c1 + (r - tileRow * c1)) * c2 + (c - tileCol * c2);
}

/**
 * Separable orthonormal 2-D DCT-II of each c1×c2 tile B of the row-major rows×cols matrix
 * `src`: X = D₁·B·D₂ᵀ, with D as in dctForward1d. `dst` receives the coefficients in
 * block-major layout (tile after tile in row-major tile order, each tile row-major; see
 * blockMajorIndex), so X[k1][k2] of tile (ti, tj) is at
 * ((ti·(cols/c2) + tj)·c1 + k1)·c2 + k2. `dst` may be `src` (in place).
 *
 * @throws KernelError KERNEL_BAD_ARGUMENT for rows/cols not integers >= 1 or a partial
 *   overlap; KERNEL_BLOCK_SIZE unless c1 | rows and c2 | cols; KERNEL_LENGTH_MISMATCH
 *   unless src and dst have rows·cols elements.
 */
export function dctForward2d(
  src: Float32Array,
  rows: number,
  cols: number,
  c1: number,
  c2: number,
  dst: Float32Array,
): void {
  check2d(src, rows, cols, c1, c2, dst);
  const rowK = forwardKernel(c2);
  const colK = forwardKernel(c1);
  const band = c1 * cols;
  const tile = c1 * c2;
  // A band of c1 rows occupies the same index range in both layouts, so in place only
  // needs the band's input saved before its tiles overwrite it.
  const saved = aliases(src, dst) ? scratchBand(band) : null;
  for (let b0 = 0; b0 < src.length; b0 += band) {
    let s = src;
    let sBase = b0;
    if (saved !== null) {
      saved.set(src.subarray(b0, b0 + band));
      s = saved;
      sBase = 0;
    }
    for (let tc = 0, t0 = b0; tc < cols; tc += c2, t0 += tile) {
      for (let r = 0; r < c1; r++) rowK(s, sBase + r * cols + tc, 1, dst, t0 + r * c2, 1);
      for (let j = 0; j < c2; j++) colK(dst, t0 + j, c2, dst, t0 + j, c2);
    }
  }
}

/**
 * Inverse of dctForward2d: `src` holds block-major coefficients, `dst` receives the
 * row-major rows×cols matrix with B = D₁ᵀ·X·D₂ per tile. `dst` may be `src` (in place).
 *
 * @throws KernelError as dctForward2d.
 */
export function dctInverse2d(
  src: Float32Array,
  rows: number,
  cols: number,
  c1: number,
  c2: number,
  dst: Float32Array,
): void {
  check2d(src, rows, cols, c1, c2, dst);
  const rowK = inverseKernel(c2);
  const colK = inverseKernel(c1);
  const band = c1 * cols;
  const tile = c1 * c2;
  // In place, a tile's output rows would overwrite later tiles of the same band: save it first.
  const saved = aliases(src, dst) ? scratchBand(band) : null;
  const t = scratchTile(tile);
  for (let b0 = 0; b0 < src.length; b0 += band) {
    let s = src;
    let sBase = b0;
    if (saved !== null) {
      saved.set(src.subarray(b0, b0 + band));
      s = saved;
      sBase = 0;
    }
    for (let tc = 0, t0 = sBase; tc < cols; tc += c2, t0 += tile) {
      for (let j = 0; j < c2; j++) colK(s, t0 + j, c2, t, j, c2);
      for (let r = 0; r < c1; r++) rowK(t, r * c2, 1, dst, b0 + r * cols + tc, 1);
    }
  }
}
