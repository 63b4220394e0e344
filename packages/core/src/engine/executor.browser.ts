import { EngineError } from './errors.js';

/**
 * Browser side of executor.ts: there are no worker threads over onnxruntime-node in a page,
 * so the engine's index can be bundled and anything that reaches for Node's executor says what
 * to use instead.
 */

export type { WireTensor } from './executor-protocol.js';
export type { RunOptions, SessionHandle, TensorExecutor } from './executor-api.js';
export type ExecutorOptions = Record<string, never>;

const NODE_ONLY = "the worker-thread executor runs in Node; in a browser use createWebExecutor({ wasmPaths }) from '@fednode/core/browser'";

export function executorWorkerPath(): never {
  throw new EngineError('ENGINE_STATE', NODE_ONLY);
}

export class Executor {
  static create(): never {
    throw new EngineError('ENGINE_STATE', NODE_ONLY);
  }
}
