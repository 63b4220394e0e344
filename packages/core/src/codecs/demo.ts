import {
  dctForward1d,
  dctInverse1d,
  dctForward2d,
  dctInverse2d,
  topkChunks,
  scatterChunks,
  accumulateChunks,
  meanOfSelected,
  packFloat16,
  unpackFloat16,
  KernelError,
} from '@fednode/kernels';
import { CoreError } from '../errors.js';
import type { TensorCodec, TensorCodecParams } from './types.js';
import { numel, viewAs } from './bytes.js';
import { expectAllFinite } from './finite.js';

export type DemoParams = Extract<TensorCodecParams, { codec: 'demo' }>;

/**
 * DeMo (spec section 4): orthonormal DCT-II over chunks (c1 x c2 tiles of a 2-D tensor, or
 * chunks of c2 of a 1-D one), keep the top-k coefficients per chunk by magnitude, send their
 * indices (u8 when a chunk has <= 256 coefficients, else u16; ascending within the chunk)
 * and values. Tensors of more than two axes are coded as [shape[0], rest].
 *
 * Payload, values = fp16: [k values as fp16 per chunk][k indices per chunk]
 * Payload, values = sign: [one fp32 scale per chunk][k indices per chunk][1 bit per value, 1 = positive]
 * where the sign scale is the mean magnitude of the chunk's kept coefficients.
 */
interface Layout {
  rows: number;
  cols: number;
  c1: number;
  c2: number;
  chunk: number;
  chunks: number;
  k: number;
  wide: boolean;
}

export function demoLayout(shape: readonly number[], p: DemoParams): Layout {
  const n = numel(shape);
  const rows = shape.length >= 2 ? shape[0] : 1;
  const cols = n / rows;
  const { chunkRows: c1, chunkCols: c2, topk: k } = p;
  if (!Number.isInteger(c1) || !Number.isInteger(c2) || c1 < 1 || c2 < 1 || rows % c1 !== 0 || cols % c2 !== 0) {
    throw new CoreError('UPDATE_CODEC', `chunk ${c1}x${c2} does not tile a ${rows}x${cols} tensor`, 'chunk');
  }
  const chunk = c1 * c2;
  if (chunk > 65536) throw new CoreError('UPDATE_CODEC', `chunk of ${chunk} coefficients is over 65536`, 'chunk');
  if (!Number.isInteger(k) || k < 1 || k > chunk) throw new CoreError('UPDATE_CODEC', `topk ${k} outside [1, ${chunk}]`, 'topk');
  return { rows, cols, c1, c2, chunk, chunks: n / chunk, k, wide: chunk > 256 };
}

function payloadBytes(shape: readonly number[], p: DemoParams): number {
  const l = demoLayout(shape, p);
  const kept = l.chunks * l.k;
  const idx = kept * (l.wide ? 2 : 1);
  return p.values === 'fp16' ? kept * 2 + idx : l.chunks * 4 + idx + Math.ceil(kept / 8);
}

let scratch = new Float32Array(0);
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch.subarray(0, n);
}

function forward(x: Float32Array, l: Layout, out: Float32Array): void {
  if (l.c1 === 1) dctForward1d(x, l.c2, out);
  else dctForward2d(x, l.rows, l.cols, l.c1, l.c2, out);
}

function inverse(coeff: Float32Array, l: Layout, out: Float32Array): void {
  if (l.c1 === 1) dctInverse1d(coeff, l.c2, out);
  else dctInverse2d(coeff, l.rows, l.cols, l.c1, l.c2, out);
}

function encode(x: Float32Array, shape: readonly number[], p: DemoParams, residual?: Float32Array): Uint8Array {
  const l = demoLayout(shape, p);
  const kept = l.chunks * l.k;
  const payload = new Uint8Array(payloadBytes(shape, p));
  const coeff = scratchOf(x.length);
  forward(x, l, coeff);
  const values = new Float32Array(kept);
  let idx: Uint8Array | Uint16Array;
  if (p.values === 'fp16') {
    idx = l.wide ? new Uint16Array(payload.buffer, kept * 2, kept) : new Uint8Array(payload.buffer, kept * 2, kept);
    selectTopk(coeff, l, idx, values);
    const half = new Uint16Array(payload.buffer, 0, kept);
    packFloat16(values, half);
    unpackFloat16(half, values); // the receiver's values, so the residual is exact
  } else {
    const scaleBytes = l.chunks * 4;
    idx = l.wide ? new Uint16Array(payload.buffer, scaleBytes, kept) : new Uint8Array(payload.buffer, scaleBytes, kept);
    selectTopk(coeff, l, idx, values);
    const scales = new Float32Array(payload.buffer, 0, l.chunks);
    const bits = payload.subarray(scaleBytes + idx.byteLength);
    for (let c = 0, j = 0; c < l.chunks; c++) {
      let sum = 0;
      for (let i = 0; i < l.k; i++) sum += Math.abs(values[j + i]);
      const s = Math.fround(sum / l.k);
      scales[c] = s;
      for (let i = 0; i < l.k; i++, j++) {
        const pos = values[j] >= 0;
        if (pos) bits[j >> 3] |= 1 << (j & 7);
        values[j] = pos ? s : -s;
      }
    }
  }
  if (residual) {
    scatterChunks(idx, values, l.chunk, l.k, coeff);
    inverse(coeff, l, residual);
    for (let i = 0; i < x.length; i++) residual[i] = x[i] - residual[i];
  }
  return payload;
}

/**
 * Top-k of every chunk. A NaN or Infinity anywhere in a chunk of the delta makes some of its
 * coefficients non-finite, and the selection refuses those: no separate pass over the input.
 */
function selectTopk(coeff: Float32Array, l: Layout, idx: Uint8Array | Uint16Array, values: Float32Array): void {
  try {
    topkChunks(coeff, l.chunk, l.k, idx, values);
  } catch (e) {
    if (e instanceof KernelError && e.code === 'KERNEL_NON_FINITE') {
      throw new CoreError('UPDATE_NON_FINITE', 'holds NaN or Infinity (seen in its DCT coefficients)', 'delta');
    }
    throw e;
  }
}

/** Reads and validates a payload's indices and values (values are reconstructed: fp16 decoded, or ±scale). */
function readPayload(payload: Uint8Array, l: Layout, p: DemoParams, field: string): { idx: Uint8Array | Uint16Array; values: Float32Array } {
  const kept = l.chunks * l.k;
  const values = new Float32Array(kept);
  let idx: Uint8Array | Uint16Array;
  if (p.values === 'fp16') {
    unpackFloat16(viewAs(Uint16Array, payload, 0, kept), values);
    expectAllFinite(values, `${field}.values`);
    idx = l.wide ? viewAs(Uint16Array, payload, kept * 2, kept) : payload.subarray(kept * 2, kept * 3);
  } else {
    const scales = viewAs(Float32Array, payload, 0, l.chunks);
    const at = l.chunks * 4;
    idx = l.wide ? viewAs(Uint16Array, payload, at, kept) : payload.subarray(at, at + kept);
    const bits = payload.subarray(at + idx.byteLength);
    for (let c = 0, j = 0; c < l.chunks; c++) {
      const s = scales[c];
      if (!(s >= 0) || s === Infinity) throw new CoreError('UPDATE_NON_FINITE', `chunk ${c} scale is ${s}`, `${field}.scales`);
      for (let i = 0; i < l.k; i++, j++) values[j] = bits[j >> 3] & (1 << (j & 7)) ? s : -s;
    }
  }
  // Strictly ascending within each chunk: in range, and no coefficient counted twice.
  for (let c = 0, j = 0; c < l.chunks; c++) {
    let prev = -1;
    for (let i = 0; i < l.k; i++, j++) {
      const v = idx[j];
      if (v <= prev || v >= l.chunk) {
        throw new CoreError('UPDATE_INDEX', `chunk ${c} index ${v} is ${v >= l.chunk ? `outside [0, ${l.chunk})` : 'not ascending'}`, `${field}.indices`);
      }
      prev = v;
    }
  }
  return { idx, values };
}

function decode(payload: Uint8Array, shape: readonly number[], p: DemoParams, out: Float32Array, field: string): void {
  const l = demoLayout(shape, p);
  const { idx, values } = readPayload(payload, l, p, field);
  const coeff = scratchOf(out.length);
  scatterChunks(idx, values, l.chunk, l.k, coeff);
  inverse(coeff, l, out);
}

export const demoCodec: TensorCodec<DemoParams> = { payloadBytes, encode, decode };

/**
 * DeMo's decoding across workers (spec 4, step 7): accumulate each worker's payload, then
 * `demoFinish` averages every coefficient over the workers that selected it and inverts the DCT.
 */
export function demoAccumulate(
  payload: Uint8Array,
  shape: readonly number[],
  p: DemoParams,
  sum: Float32Array,
  count: Uint32Array,
  field: string,
): void {
  const l = demoLayout(shape, p);
  const { idx, values } = readPayload(payload, l, p, field);
  accumulateChunks(idx, values, l.chunk, l.k, sum, count);
}

export function demoFinish(sum: Float32Array, count: Uint32Array, shape: readonly number[], p: DemoParams, out: Float32Array): void {
  const l = demoLayout(shape, p);
  const coeff = scratchOf(out.length);
  meanOfSelected(sum, count, coeff);
  inverse(coeff, l, out);
}

