import { demoChunkSize, INT8_DEFAULT_BLOCK, INT8_MIN_BLOCK, INT8_MAX_BLOCK } from '@fednode/kernels';
import { CoreError } from '../errors.js';
import type { CodecName, CodecOptions, TensorCodec, TensorCodecParams } from './types.js';
import { fp32Codec, fp16Codec, bf16Codec } from './dense.js';
import { int8Codec } from './int8.js';
import { int4Codec } from './int4.js';
import { demoCodec } from './demo.js';
import { numel } from './bytes.js';

export const DEMO_DEFAULT_CHUNK = 64;
export const DEMO_DEFAULT_TOPK = 32;
export const AUTO_MIN_DEMO_ELEMENTS = 4096;

const CODECS: Record<CodecName, TensorCodec> = {
  fp32: fp32Codec,
  fp16: fp16Codec,
  bf16: bf16Codec,
  int8: int8Codec as TensorCodec,
  int4: int4Codec as TensorCodec,
  demo: demoCodec as TensorCodec,
};

export function codecFor(params: TensorCodecParams): TensorCodec {
  const c = CODECS[params.codec];
  if (c === undefined) throw new CoreError('UPDATE_CODEC', `unknown codec "${(params as { codec: unknown }).codec}"`, 'codec');
  return c;
}

/** Exact payload size of a tensor of `shape` under `params`. */
export function payloadBytes(shape: readonly number[], params: TensorCodecParams): number {
  return codecFor(params).payloadBytes(shape, params);
}

/**
 * The concrete parameters for one tensor: `auto` sends 1-D and small tensors dense (int8 by
 * default: DCT-coding them costs more than dense) and DCT-codes the rest; DeMo's chunk per
 * axis is the largest divisor of the axis not above the requested chunk; top-k is clamped.
 */
export function resolveCodec(options: CodecOptions, shape: readonly number[]): TensorCodecParams {
  const n = numel(shape);
  let codec = options.codec;
  if (codec === 'auto') {
    const big = shape.length >= 2 && n >= (options.minDemoElements ?? AUTO_MIN_DEMO_ELEMENTS);
    codec = big ? 'demo' : (options.dense ?? 'int8');
  }
  switch (codec) {
    case 'fp32':
    case 'fp16':
    case 'bf16':
      return { codec };
    case 'int8':
    case 'int4': {
      const blockSize = options.blockSize ?? INT8_DEFAULT_BLOCK;
      if (!Number.isInteger(blockSize) || blockSize < INT8_MIN_BLOCK || blockSize > INT8_MAX_BLOCK) {
        throw new CoreError('UPDATE_CODEC', `${codec} block size ${blockSize} outside [${INT8_MIN_BLOCK}, ${INT8_MAX_BLOCK}]`, 'blockSize');
      }
      return { codec, blockSize };
    }
    case 'demo': {
      const chunk = options.chunk ?? DEMO_DEFAULT_CHUNK;
      const topk = options.topk ?? DEMO_DEFAULT_TOPK;
      if (!Number.isInteger(chunk) || chunk < 1 || chunk > 256) throw new CoreError('UPDATE_CODEC', `demo chunk ${chunk} outside [1, 256]`, 'chunk');
      if (!Number.isInteger(topk) || topk < 1) throw new CoreError('UPDATE_CODEC', `demo topk ${topk} is not a positive integer`, 'topk');
      const values = options.values ?? 'fp16';
      if (values !== 'fp16' && values !== 'sign') throw new CoreError('UPDATE_CODEC', `demo values "${values}" is not fp16 or sign`, 'values');
      const rows = shape.length >= 2 ? shape[0] : 1;
      const cols = n / rows;
      const chunkRows = rows === 1 ? 1 : demoChunkSize(rows, chunk);
      const chunkCols = demoChunkSize(cols, chunk);
      return { codec, chunkRows, chunkCols, topk: Math.min(topk, chunkRows * chunkCols), values };
    }
    default:
      throw new CoreError('UPDATE_CODEC', `unknown codec "${codec as string}"`, 'codec');
  }
}
