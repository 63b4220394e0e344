/**
 * bitsandbytes blockwise 8-bit quantisation with the default "dynamic map" code
 * (spec section 5): each block is scaled by its absmax and every scaled value is replaced
 * by the index of the nearest of 256 non-uniformly spaced code values.
 */
import { KernelError, expectLength } from '../errors.js';

/** Smallest and largest accepted block sizes (bnb itself accepts 64..4096). */
export const DYNAMIC_MIN_BLOCK = 1;
export const DYNAMIC_MAX_BLOCK = 4096;

/** bnb clamps the block absmax to at least this, so all-zero blocks divide safely. */
export const DYNAMIC_ABSMAX_FLOOR = 1e-38;

const f32 = Math.fround;

/**
 * torch.linspace(start, end, steps) for float32 on CPU: step = (end − start)/(steps − 1) in
 * float32, the first half counted up from start and the second half down from end, each
 * element `start + step·i` rounded once (the AVX2/FMA build contracts it to a fused
 * multiply-add; in float64 the product and sum here are exact, so one fround matches).
 */
function linspaceF32(start: number, end: number, steps: number): number[] {
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    out.push(i < halfway ? f32(s + step * i) : f32(e - step * (steps - i - 1)));
  }
  return out;
}

// Literal powers of ten: `10 ** k` in JS is not guaranteed correctly rounded.
const POW10 = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];

let cachedMap: Float32Array | undefined;
let cachedMidpoints: Float64Array | undefined;

/**
 * The bitsandbytes dynamic quantisation map, `create_dynamic_map(signed=True,
 * max_exponent_bits=7, total_bits=8)`, reproduced in float32: for exponent level i = 0..6,
 * the means of adjacent points of linspace(0.1, 1, 2^i + 1) scaled by ±10^(i−6), plus 0 and
 * 1, sorted ascending. code[0] = −0.99296875, code[127] = 0, code[255] = 1; −1 is not
 * representable. Returns a fresh copy each call (the kernels use a cached one).
 */
export function dynamicMap(): Float32Array {
  return new Float32Array(getMap());
}

function getMap(): Float32Array {
  if (cachedMap !== undefined) return cachedMap;
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const b = linspaceF32(0.1, 1, 2 ** i + 1);
    const scale = f32(POW10[i]);
    for (let j = 0; j + 1 < b.length; j++) {
      // (b[j] + b[j+1]) / 2.0 in float32; the halving is exact.
      const mean = f32(b[j] + b[j + 1]) / 2;
      data.push(f32(scale * mean), f32(-scale * mean));
    }
  }
  data.push(0, 1);
  data.sort((a, b) => a - b);
  cachedMap = new Float32Array(data);
  return cachedMap;
}

/** Exact (float64) midpoints between neighbouring code values: 255 entries. */
function getMidpoints(): Float64Array {
  if (cachedMidpoints !== undefined) return cachedMidpoints;
  const code = getMap();
  const mid = new Float64Array(255);
  for (let k = 0; k < 255; k++) mid[k] = (code[k] + code[k + 1]) / 2;
  cachedMidpoints = mid;
  return mid;
}

function checkBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < DYNAMIC_MIN_BLOCK || blockSize > DYNAMIC_MAX_BLOCK) {
    throw new KernelError(
      'KERNEL_BLOCK_SIZE',
      `blockSize is ${blockSize}, expected an integer in [${DYNAMIC_MIN_BLOCK}, ${DYNAMIC_MAX_BLOCK}]`,
    );
  }
}

/**
 * Blockwise dynamic-map quantisation (bnb `quantize_blockwise` with the default code).
 *
 * Per block b of `blockSize` elements (the last may be partial):
 * a_b = max(max|x|, 1e-38) is stored (as float32) in `absmax[b]`; y = clamp(fround(x/a_b),
 * −1, 1); `q[i]` is the index of the nearest code value to y, ties going to the lower index
 * (equivalently, the number of exact code midpoints strictly below y).
 *
 * Layout: `q.length = n`, `absmax.length = ceil(n / blockSize)`. Throws KERNEL_BLOCK_SIZE
 * for blockSize outside [1, 4096], KERNEL_LENGTH_MISMATCH for wrong lengths and
 * KERNEL_NON_FINITE naming the first non-finite element of the offending block.
 */
export function quantiseDynamic(x: Float32Array, blockSize: number, q: Uint8Array, absmax: Float32Array): void {
  checkBlockSize(blockSize);
  const n = x.length;
  const nBlocks = Math.ceil(n / blockSize);
  expectLength('q', q.length, n);
  expectLength('absmax', absmax.length, nBlocks);
  const mid = getMidpoints();
  for (let b = 0; b < nBlocks; b++) {
    const start = b * blockSize;
    const end = start + blockSize < n ? start + blockSize : n;
    let a = 0;
    let bad = 0;
    for (let i = start; i < end; i++) {
      const v = x[i];
      bad += v * 0; // NaN iff some element is NaN or ±Inf
      const av = Math.abs(v);
      if (av > a) a = av;
    }
    if (bad !== 0) {
      for (let i = start; i < end; i++) {
        if (!Number.isFinite(x[i])) {
          throw new KernelError('KERNEL_NON_FINITE', `x[${i}] is ${x[i]}, expected a finite number`);
        }
      }
    }
    const ab = f32(a > DYNAMIC_ABSMAX_FLOOR ? a : DYNAMIC_ABSMAX_FLOOR);
    absmax[b] = ab;
    for (let i = start; i < end; i++) {
      let y = f32(x[i] / ab);
      if (y > 1) y = 1;
      else if (y < -1) y = -1;
      // Branch-light binary search: k ends as the count of midpoints < y, in [0, 255].
      let k = 0;
      if (mid[k + 127] < y) k += 128;
      if (mid[k + 63] < y) k += 64;
      if (mid[k + 31] < y) k += 32;
      if (mid[k + 15] < y) k += 16;
      if (mid[k + 7] < y) k += 8;
      if (mid[k + 3] < y) k += 4;
      if (mid[k + 1] < y) k += 2;
      if (mid[k] < y) k += 1;
      q[i] = k;
    }
  }
}

/**
 * Inverse of {@link quantiseDynamic}: `out[i] = fround(code[q[i]] · absmax[floor(i / blockSize)])`.
 * Throws KERNEL_NON_FINITE for a non-finite absmax and the size errors of quantiseDynamic.
 */
export function dequantiseDynamic(q: Uint8Array, absmax: Float32Array, blockSize: number, out: Float32Array): void {
  checkBlockSize(blockSize);
  const n = q.length;
  const nBlocks = Math.ceil(n / blockSize);
  expectLength('absmax', absmax.length, nBlocks);
  expectLength('out', out.length, n);
  for (let b = 0; b < nBlocks; b++) {
    if (!Number.isFinite(absmax[b])) {
      throw new KernelError('KERNEL_NON_FINITE', `absmax[${b}] is ${absmax[b]}, expected a finite number`);
    }
  }
  const code = getMap();
  for (let b = 0; b < nBlocks; b++) {
    const start = b * blockSize;
    const end = start + blockSize < n ? start + blockSize : n;
    const a = absmax[b];
    for (let i = start; i < end; i++) out[i] = code[q[i]] * a;
  }
}
