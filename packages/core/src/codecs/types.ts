/** Codecs that encode one tensor's delta into bytes. */
export type CodecName = 'fp32' | 'fp16' | 'bf16' | 'int8' | 'int4' | 'demo';

/** How DeMo sends the kept coefficients: fp16 values, or 1-bit signs with an fp32 scale per chunk. */
export type DemoValues = 'fp16' | 'sign';

/**
 * Everything needed to decode one tensor's payload; travels in the tensor header.
 * Resolved per tensor: `auto` and DeMo's chunk rule are already applied.
 */
export type TensorCodecParams =
  | { readonly codec: 'fp32' | 'fp16' | 'bf16' }
  | { readonly codec: 'int8'; readonly blockSize: number }
  | { readonly codec: 'int4'; readonly blockSize: number }
  | {
      readonly codec: 'demo';
      /** Chunk size along rows (1 for 1-D tensors) and along columns; each divides its axis. */
      readonly chunkRows: number;
      readonly chunkCols: number;
      /** Coefficients kept per chunk, 1..chunkRows*chunkCols. */
      readonly topk: number;
      readonly values: DemoValues;
    };

/** What a user asks for (run files, scenarios); resolved per tensor by `resolveCodec`. */
export interface CodecOptions {
  readonly codec: CodecName | 'auto';
  /** int8 and int4 block size, 32..4096 (default 256). */
  readonly blockSize?: number;
  /** DeMo's requested chunk size (default 64); the chunk per axis is its largest divisor not above this. */
  readonly chunk?: number;
  /** DeMo's coefficients per chunk (default 32), clamped to the chunk's size. */
  readonly topk?: number;
  /** DeMo value format (default fp16). */
  readonly values?: DemoValues;
  /** auto: codec for tensors that are not DCT-coded (default int8). */
  readonly dense?: 'fp32' | 'fp16' | 'bf16' | 'int8' | 'int4';
  /** auto: smallest tensor (elements) worth DCT-coding; 1-D tensors never are (default 4096). */
  readonly minDemoElements?: number;
}

/** One tensor's encoded delta. */
export interface EncodedTensor {
  readonly name: string;
  /** Shape of the local (sliced) tensor. */
  readonly shape: readonly number[];
  readonly params: TensorCodecParams;
  readonly payload: Uint8Array;
}

/** One codec: exact payload size, encode with optional error-feedback residual, validated decode. */
export interface TensorCodec<P extends TensorCodecParams = TensorCodecParams> {
  /** Exact payload size in bytes for a tensor of `shape`. */
  payloadBytes(shape: readonly number[], params: P): number;
  /**
   * Encodes `x` (row-major, `shape`). When `residual` is given it receives x − decode(payload),
   * the error-feedback residual, computed from exactly what the receiver will reconstruct.
   */
  encode(x: Float32Array, shape: readonly number[], params: P, residual?: Float32Array): Uint8Array;
  /** Decodes into `out`, refusing non-finite values and out-of-range indices with a CoreError naming `field`. */
  decode(payload: Uint8Array, shape: readonly number[], params: P, out: Float32Array, field: string): void;
}
