/**
 * One transform of one chunk: reads `c` values from `src` starting at `srcOff`, `srcStride`
 * apart, and writes `c` values to `dst` starting at `dstOff`, `dstStride` apart. Every input
 * is read before any output is written, so `dst` may be the same buffer and positions as
 * `src` (in place). Strides let the 2-D transform run along tile columns without copying.
 */
export type ChunkKernel = (
  src: Float32Array,
  srcOff: number,
  srcStride: number,
  dst: Float32Array,
  dstOff: number,
  dstStride: number,
) => void;
