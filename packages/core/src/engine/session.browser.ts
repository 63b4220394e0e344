import { EngineError } from './errors.js';

/** Browser side of session.ts: onnxruntime-node's sessions do not exist in a page (ort-web.ts runs them there). */

export type ExecutionProvider = 'cpu' | 'cuda';
export type SessionOptions = Record<string, never>;
export type TensorData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

function nodeOnly(): never {
  throw new EngineError('ENGINE_PROVIDER', "onnxruntime-node runs in Node; in a browser use createWebExecutor({ wasmPaths }) from '@fednode/core/browser'");
}

export const checkProvider = nodeOnly;
export const createSession = nodeOnly;
export const toTensor = nodeOnly;
export const runSession = nodeOnly;
