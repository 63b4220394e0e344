import { EngineError } from './errors.js';
import type { TensorExecutor } from './executor-api.js';

/** Browser side of default-executor.ts: a page must say where onnxruntime-web's files are, so it passes an executor. */
export function defaultExecutor(): Promise<TensorExecutor> {
  return Promise.reject(new EngineError('ENGINE_STATE', 'in a browser, give the trainer an executor: createWebExecutor({ wasmPaths })'));
}
