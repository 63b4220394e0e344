import { packFloat16, unpackFloat16, packBFloat16, unpackBFloat16 } from '@fednode/kernels';
import type { TensorCodec, TensorCodecParams } from './types.js';
import { bytesOf, numel, viewAs } from './bytes.js';
import { expectAllFinite } from './finite.js';

type DenseParams = Extract<TensorCodecParams, { codec: 'fp32' | 'fp16' | 'bf16' }>;

/** fp32: the raw little-endian floats. Lossless, 4 bytes per element. */
export const fp32Codec: TensorCodec<DenseParams> = {
  payloadBytes: (shape) => numel(shape) * 4,
  encode(x, _shape, _params, residual) {
    expectAllFinite(x, 'delta');
    residual?.fill(0);
    return bytesOf(x.slice());
  },
  decode(payload, shape, _params, out, field) {
    out.set(viewAs(Float32Array, payload, 0, numel(shape)));
    expectAllFinite(out, field);
  },
};

function halfCodec(pack: (s: Float32Array, d: Uint16Array) => void, unpack: (s: Uint16Array, d: Float32Array) => void): TensorCodec<DenseParams> {
  return {
    payloadBytes: (shape) => numel(shape) * 2,
    encode(x, _shape, _params, residual) {
      expectAllFinite(x, 'delta');
      const h = new Uint16Array(x.length);
      pack(x, h);
      if (residual) {
        unpack(h, residual);
        for (let i = 0; i < x.length; i++) residual[i] = x[i] - residual[i];
      }
      return bytesOf(h);
    },
    decode(payload, shape, _params, out, field) {
      unpack(viewAs(Uint16Array, payload, 0, numel(shape)), out);
      // fp16 overflows to Infinity, so a finite float32 can still decode to a non-finite value.
      expectAllFinite(out, field);
    },
  };
}

/** fp16: IEEE half precision, round to nearest even; 2 bytes per element. */
export const fp16Codec = halfCodec(packFloat16, unpackFloat16);
/** bf16: bfloat16, round to nearest even; 2 bytes per element. */
export const bf16Codec = halfCodec(packBFloat16, unpackBFloat16);
