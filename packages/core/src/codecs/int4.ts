import { quantiseInt4, dequantiseInt4, int4InvalidCode, int4PackedBytes, int8ScaleCount } from '@fednode/kernels';
import { CoreError } from '../errors.js';
import type { TensorCodec, TensorCodecParams } from './types.js';
import { numel } from './bytes.js';
import { asCoreError, blockScales } from './int8.js';

type Int4Params = Extract<TensorCodecParams, { codec: 'int4' }>;

/**
 * Blockwise absmax int4. Payload: one fp32 scale per block, then the codes two to a byte
 * (element 2i in the low nibble). The error is at most half a step (scale/2) per element.
 */
export const int4Codec: TensorCodec<Int4Params> = {
  payloadBytes(shape, p) {
    const n = numel(shape);
    return int8ScaleCount(n, p.blockSize) * 4 + int4PackedBytes(n);
  },
  encode(x, shape, p, residual) {
    const n = numel(shape);
    const nb = int8ScaleCount(n, p.blockSize);
    const payload = new Uint8Array(nb * 4 + int4PackedBytes(n));
    const scales = new Float32Array(payload.buffer, 0, nb);
    const packed = payload.subarray(nb * 4);
    try {
      quantiseInt4(x, p.blockSize, packed, scales, residual);
    } catch (e) {
      throw asCoreError(e, 'delta');
    }
    return payload;
  },
  decode(payload, shape, p, out, field) {
    const n = numel(shape);
    const nb = int8ScaleCount(n, p.blockSize);
    const scales = blockScales(payload, nb, field);
    const packed = payload.subarray(nb * 4);
    const bad = int4InvalidCode(packed, n);
    if (bad === n) throw new CoreError('UPDATE_INDEX', `the padding nibble after element ${n - 1} is not 0`, field);
    // -8 is outside the symmetric code [-7, 7] that encode produces.
    if (bad >= 0) throw new CoreError('UPDATE_INDEX', `element ${bad} holds -8, outside [-7, 7]`, field);
    dequantiseInt4(packed, scales, p.blockSize, out);
  },
};
