import type { TensorExecutor } from './executor-api.js';
import { Executor } from './executor.js';
import type { ExecutionProvider } from './session.js';

/**
 * Platform seam: the executor a Trainer makes for itself when it is given none. In Node, a
 * worker thread over onnxruntime-node; the browser build swaps in default-executor.browser.ts.
 */
export function defaultExecutor(opts: { provider?: ExecutionProvider; intraOpThreads?: number }): Promise<TensorExecutor> {
  return Promise.resolve(Executor.create(opts));
}
