/**
 * Element types the engine uses, with their ONNX TensorProto.DataType codes. A graph has
 * one floating type for all its real-valued tensors: float32 to train, float64 to check
 * gradients against finite differences with the same builder code.
 */
export type FloatType = 'float32' | 'float64';
export type DType = FloatType | 'int64' | 'bool';

export const ONNX_TYPE: Record<DType, number> = { float32: 1, int64: 7, bool: 9, float64: 11 };

export function isFloat(t: DType): t is FloatType {
  return t === 'float32' || t === 'float64';
}
