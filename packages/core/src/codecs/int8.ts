import { quantiseInt8, dequantiseInt8, int8ScaleCount, KernelError } from '@fednode/kernels';
import { CoreError } from '../errors.js';
import type { TensorCodec, TensorCodecParams } from './types.js';
import { numel, viewAs } from './bytes.js';

type Int8Params = Extract<TensorCodecParams, { codec: 'int8' }>;

/**
 * Blockwise absmax int8 (spec section 5, linear option). Payload: one fp32 scale per block,
 * then one int8 per element. The error is at most half a step (scale/2) per element.
 */
export const int8Codec: TensorCodec<Int8Params> = {
  payloadBytes(shape, p) {
    const n = numel(shape);
    return int8ScaleCount(n, p.blockSize) * 4 + n;
  },
  encode(x, shape, p, residual) {
    const n = numel(shape);
    const nb = int8ScaleCount(n, p.blockSize);
    const payload = new Uint8Array(nb * 4 + n);
    const scales = new Float32Array(payload.buffer, 0, nb);
    const q = new Int8Array(payload.buffer, nb * 4, n);
    try {
      quantiseInt8(x, p.blockSize, q, scales, residual);
    } catch (e) {
      throw asCoreError(e, 'delta');
    }
    return payload;
  },
  decode(payload, shape, p, out, field) {
    const n = numel(shape);
    const nb = int8ScaleCount(n, p.blockSize);
    const scales = blockScales(payload, nb, field);
    const q = new Int8Array(payload.buffer, payload.byteOffset + nb * 4, n);
    for (let i = 0; i < n; i++) {
      // -128 is outside the symmetric code [-127, 127] that encode produces.
      if (q[i] === -128) throw new CoreError('UPDATE_INDEX', `element ${i} holds -128, outside [-127, 127]`, field);
    }
    dequantiseInt8(q, scales, p.blockSize, out);
  },
};

/** The `count` fp32 block scales a blockwise payload starts with, refused unless each is finite and >= 0. */
export function blockScales(payload: Uint8Array, count: number, field: string): Float32Array {
  const scales = viewAs(Float32Array, payload, 0, count);
  for (let b = 0; b < count; b++) {
    const s = scales[b];
    if (!(s >= 0) || s === Infinity) throw new CoreError('UPDATE_NON_FINITE', `block ${b} scale is ${s}`, field);
  }
  return scales;
}

/** Maps a kernel's refusal of bad data to the codec's error codes. */
export function asCoreError(e: unknown, field: string): unknown {
  if (e instanceof KernelError) {
    const code = e.code === 'KERNEL_NON_FINITE' ? 'UPDATE_NON_FINITE' : e.code === 'KERNEL_BAD_ARGUMENT' ? 'UPDATE_INDEX' : 'UPDATE_CODEC';
    return new CoreError(code, e.message, field);
  }
  return e;
}
