/**
 * Errors of the training engine. Each has a stable `code`; the message is one line that
 * names the op or value at fault, so a user sees what to fix rather than a stack.
 */
export type EngineErrorCode =
  | 'ENGINE_SHAPE' // shapes or dtypes that do not fit the op
  | 'ENGINE_OP' // an unknown op, or an op used in a way the engine does not support
  | 'ENGINE_GRAPH' // a malformed graph: unknown value, duplicate name, no path to the loss
  | 'ENGINE_PROVIDER' // an execution provider that onnxruntime cannot load
  | 'ENGINE_RUN' // onnxruntime refused the model or failed while running it
  | 'ENGINE_WORKER' // the executor's worker thread is missing (not built) or died
  | 'ENGINE_STATE'; // a call that does not fit the object's state (closed, unknown session or tensor)

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, message: string) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
  }
}
