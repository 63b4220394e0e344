/**
 * Quantisation kernels: linear blockwise int8, the bitsandbytes dynamic map, INTELLECT-1's
 * uint8 lookup-table quantiser, fp16/bf16 packing and sign compressors for error feedback.
 */
export {
  INT8_DEFAULT_BLOCK,
  INT8_MIN_BLOCK,
  INT8_MAX_BLOCK,
  int8ScaleCount,
  quantiseInt8,
  dequantiseInt8,
  dequantiseInt8Accumulate,
} from './int8.js';
export {
  DYNAMIC_MIN_BLOCK,
  DYNAMIC_MAX_BLOCK,
  DYNAMIC_ABSMAX_FLOOR,
  dynamicMap,
  quantiseDynamic,
  dequantiseDynamic,
} from './dynamic-map.js';
export { UINT8_LUT_SIZE, quantiseUint8Lut, dequantiseUint8Lut } from './uint8-lut.js';
export {
  packFloat16,
  unpackFloat16,
  packBFloat16,
  unpackBFloat16,
  float16Bits,
  float16Value,
} from './float16.js';
export { scaledSign, oneBitByteCount, oneBitCompress, oneBitDecompress } from './error-feedback.js';
export { INT4_MAX_CODE, int4PackedBytes, quantiseInt4, dequantiseInt4, int4InvalidCode } from './int4.js';
