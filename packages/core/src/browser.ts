/**
 * @fednode/core/browser: the part of core a browser page runs — the training engine over
 * onnxruntime-web, parameter sets, codecs with error feedback, updates and the wire format.
 * Everything here is the same code Node runs; files, worker threads and onnxruntime-node stay
 * behind the platform seams (a bundler swaps each `x.ts` for its `x.browser.ts` sibling).
 */
export { ParamSet, sameSpecs, shapeSize, type TensorSpec } from './tensor/paramset.js';
export { CoreError, type CoreErrorCode } from './errors.js';
export { EngineError, type EngineErrorCode } from './engine/errors.js';

export { Trainer, MODEL_NAMES, modelByName, type Evaluation, type FeedBatch, type ModelName, type TrainerOptions } from './engine/trainer.js';
export type { OptimizerSpec } from './engine/optimizer.js';
export type { TensorExecutor, SessionHandle, RunOptions } from './engine/executor-api.js';
export { createWebExecutor, crossOriginIsolated, type WebExecutorOptions, type WebProvider } from './engine/ort-web.js';

export { codecFor, payloadBytes, resolveCodec } from './codecs/registry.js';
export type { CodecName, CodecOptions, EncodedTensor, TensorCodec } from './codecs/types.js';
export { ErrorFeedback } from './codecs/error-feedback.js';
export { fullSlice, resolveSlice } from './slice/slice.js';
export { payloadBytesOf, type Update } from './update/update.js';
export { encodeUpdate, decodeUpdateTensors, type UpdateFields } from './update/codec-update.js';
export { updateToFrames, updateFromFrames, payloadFrames } from './wire/update-wire.js';
export {
  decodeModelRequest,
  decodeModelResponse,
  decodeUpdateAck,
  encodeModelRequest,
  encodeModelResponse,
  encodeUpdateAck,
  type ModelRequest,
  type ModelResponse,
  type UpdateAck,
} from './wire/control.js';
export { batches, type Batch } from './data/batches.js';
export type { Dataset } from './data/dataset.js';
