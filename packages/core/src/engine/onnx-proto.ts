import { protoRoot } from '../platform/proto-root.js';

/** The onnx.proto subset (proto/onnx.proto, upstream field numbers), loaded once. */
const root = protoRoot('onnx');
const modelType = root.lookupType('onnx.ModelProto');

/** Plain-object forms of the messages we write (protobufjs camelCases field names). */
export interface DimObject {
  dimValue?: number;
  dimParam?: string;
}
export interface ValueInfoObject {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: DimObject[] } } };
}
export interface TensorObject {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}
export interface AttributeObject {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorObject;
  floats?: number[];
  ints?: number[];
}
export interface NodeObject {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: AttributeObject[];
  domain?: string;
}
export interface ModelObject {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: {
    name: string;
    node: NodeObject[];
    initializer: TensorObject[];
    input: ValueInfoObject[];
    output: ValueInfoObject[];
  };
  metadataProps?: { key: string; value: string }[];
}

/** AttributeProto.AttributeType codes. */
export const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export function encodeModel(model: ModelObject): Uint8Array {
  const err = modelType.verify(model);
  if (err !== null) throw new Error(`onnx.ModelProto: ${err}`);
  return modelType.encode(modelType.fromObject(model)).finish();
}

/** Decodes model bytes to a plain object, for tests and tools that inspect a file. */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const msg = modelType.decode(bytes);
  return modelType.toObject(msg, { longs: Number, bytes: Array, defaults: false, arrays: true });
}
