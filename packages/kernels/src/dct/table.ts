import type { ChunkKernel } from './chunk-kernel.js';

/**
 * Matrix-vector DCT kernels for chunk sizes without a generated kernel (50, 29, 48, ...).
 * Such sizes come from tensor dimensions with no power-of-two divisor near the requested
 * chunk, so they are rarer and O(c²) is acceptable. The orthonormal matrix for each size
 * is built once and cached for the life of the process.
 */

const forwardCache = new Map<number, ChunkKernel>();
const inverseCache = new Map<number, ChunkKernel>();

/** Row-major c×c matrix D[k][i] = α_k·cos(π(2i+1)k/2c), in float64. */
function dctMatrix(c: number): Float64Array {
  const m = new Float64Array(c * c);
  const a0 = Math.sqrt(1 / c);
  const a = Math.sqrt(2 / c);
  for (let k = 0; k < c; k++) {
    const ak = k === 0 ? a0 : a;
    for (let i = 0; i < c; i++) m[k * c + i] = ak * Math.cos((Math.PI * (2 * i + 1) * k) / (2 * c));
  }
  return m;
}

/**
 * A kernel computing y = M·x for the c×c row-major matrix M (D for the forward transform,
 * Dᵀ for the inverse). Inputs are copied to a per-kernel scratch first so dst may alias src.
 */
function matrixKernel(m: Float64Array, c: number): ChunkKernel {
  const x = new Float64Array(c);
  return (src, srcOff, srcStride, dst, dstOff, dstStride) => {
    for (let i = 0, p = srcOff; i < c; i++, p += srcStride) x[i] = src[p];
    for (let k = 0, q = dstOff, row = 0; k < c; k++, q += dstStride, row += c) {
      let s = 0;
      for (let i = 0; i < c; i++) s += m[row + i] * x[i];
      dst[q] = s;
    }
  };
}

/** The cached matrix-vector DCT-II kernel for chunk size `c`. */
export function tableForward(c: number): ChunkKernel {
  let k = forwardCache.get(c);
  if (k === undefined) {
    k = matrixKernel(dctMatrix(c), c);
    forwardCache.set(c, k);
  }
  return k;
}

/** The cached matrix-vector DCT-III (orthonormal inverse) kernel for chunk size `c`. */
export function tableInverse(c: number): ChunkKernel {
  let k = inverseCache.get(c);
  if (k === undefined) {
    const d = dctMatrix(c);
    const t = new Float64Array(c * c);
    for (let r = 0; r < c; r++) for (let s = 0; s < c; s++) t[r * c + s] = d[s * c + r];
    k = matrixKernel(t, c);
    inverseCache.set(c, k);
  }
  return k;
}
