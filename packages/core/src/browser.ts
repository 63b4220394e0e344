/**
 * @fednode/core in a browser (the "browser" export condition, which bundlers pick): what a
 * browser peer runs — the training engine over onnxruntime-web, parameter sets, slices, codecs
 * with error feedback, updates, the wire format and local training. It is the same code Node
 * runs; files, worker threads and onnxruntime-node stay behind the platform seams (a bundler
 * swaps each `x.ts` for its `x.browser.ts` sibling). Not here: dataset loaders, checkpoints on
 * disk, the encode pool and the text corpora, which read files or start threads.
 */
export { CoreError, type CoreErrorCode } from './errors.js';
export { ParamSet, sameSpecs, shapeSize, type TensorSpec } from './tensor/paramset.js';

export { ALL, axisIndices, fullSlice, resolveSlice } from './slice/slice.js';
export type { AxisSelection, ResolvedSlice, ResolvedTensor, Slice, TensorSlice } from './slice/slice.js';
export { extractSlice, extractSliceInto, scatterSlice, sliceCoverage } from './slice/transfer.js';

export type { CodecName, CodecOptions, DemoValues, EncodedTensor, TensorCodec, TensorCodecParams } from './codecs/types.js';
export { codecFor, payloadBytes, resolveCodec, DEMO_DEFAULT_CHUNK, DEMO_DEFAULT_TOPK, AUTO_MIN_DEMO_ELEMENTS } from './codecs/registry.js';
export { demoAccumulate, demoFinish, type DemoParams } from './codecs/demo.js';
export { ErrorFeedback } from './codecs/error-feedback.js';

export { payloadBytesOf, type Update } from './update/update.js';
export { encodeUpdate, decodeUpdateTensors, type UpdateFields } from './update/codec-update.js';

export { DEFAULT_WIRE_LIMITS, PROTOCOL_VERSION, type WireLimits } from './wire/limits.js';
export {
  DEFAULT_FRAME_BYTES,
  PayloadAssembler,
  decodeTensorChunk,
  decodeUpdateHeader,
  encodeTensorChunk,
  encodeUpdateHeader,
  payloadFrames,
  updateFromFrames,
  updateToFrames,
  type TensorChunk,
  type UpdateHeaderInfo,
} from './wire/update-wire.js';
export { MAX_SYNC_PART_BYTES, decodeSyncPart, encodeSyncParts, updateFromSyncParts, type SyncPart } from './wire/sync.js';
export {
  MAX_CONTROL_BYTES,
  decodeControl,
  decodeModelRequest,
  decodeModelResponse,
  decodeUpdateAck,
  encodeControl,
  encodeModelRequest,
  encodeModelResponse,
  encodeUpdateAck,
  type Control,
  type ControlBody,
  type ModelCodec,
  type ModelRequest,
  type ModelResponse,
  type UpdateAck,
} from './wire/control.js';

/** The training engine, as in Node (its Executor and onnxruntime-node sessions say to use createWebExecutor). */
export * as engine from './engine/index.js';
export { EngineError, type EngineErrorCode } from './engine/errors.js';
export { createWebExecutor, crossOriginIsolated, type WebExecutorOptions, type WebProvider } from './engine/ort-web.js';

export { batches, type Batch } from './data/batches.js';
export type { Dataset } from './data/dataset.js';
export { mlpSubnetwork, MNIST_MLP_SUPERNET, type MlpSupernetConfig } from './models/mlp-supernet.js';
export { budgetSteps, trainLocal, type LocalTrainingOptions, type LocalTrainingReport } from './tasks/local-training.js';
export { datasetShare } from './tasks/dataset-share.js';
export type { DataShare, TrainingBudget } from './tasks/types.js';
