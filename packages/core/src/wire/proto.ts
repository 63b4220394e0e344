import protobuf from 'protobufjs';
import { protoRoot } from '../platform/proto-root.js';

/**
 * The wire schema, loaded once from proto/fednode.proto (shipped beside dist/ and src/).
 * Decoding goes through `decodeObject`, which turns protobufjs' failures into plain
 * objects or a thrown Error that callers map to WIRE_DECODE.
 */
const root = protoRoot('fednode');

export type MessageName =
  | 'UpdateHeader'
  | 'TensorChunk'
  | 'UpdateAck'
  | 'ModelRequest'
  | 'ModelResponse'
  | 'Control'
  | 'SyncPart'
  | 'Slice'
  | 'TensorHeader';

const types = new Map<MessageName, protobuf.Type>();
function typeOf(name: MessageName): protobuf.Type {
  let t = types.get(name);
  if (t === undefined) {
    t = root.lookupType(`fednode.v1.${name}`);
    types.set(name, t);
  }
  return t;
}

export function encodeMessage(name: MessageName, value: Record<string, unknown>): Uint8Array {
  const t = typeOf(name);
  const b = t.encode(t.fromObject(value)).finish();
  // protobufjs hands back a Node Buffer, whose slice() is a view: return a plain Uint8Array
  // so copies made with slice() by callers are real copies.
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A decoded message as a plain object with defaults filled in (numbers, enum names, arrays). */
export function decodeObject(name: MessageName, bytes: Uint8Array): Record<string, unknown> {
  const t = typeOf(name);
  const msg = t.decode(bytes);
  return t.toObject(msg, { longs: Number, enums: String, defaults: true, arrays: true, objects: true, oneofs: true });
}
