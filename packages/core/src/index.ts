/**
 * @fednode/core: everything about a model that is not networking. So far: parameter sets,
 * slices, updates, codecs with error feedback, the wire format and checkpoints.
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
export { EncodePool } from './codecs/encode-pool.js';

export { payloadBytesOf, type Update } from './update/update.js';
export { encodeUpdate, decodeUpdateTensors, type UpdateFields } from './update/codec-update.js';

export { DEFAULT_WIRE_LIMITS, PROTOCOL_VERSION, type WireLimits } from './wire/limits.js';
export type { TensorHeaderInfo } from './wire/validate.js';
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

export { encodeSafetensors, encodeSafetensorsBytes, parseSafetensors, type SafeDType, type SafeFile, type SafeLimits, type SafeTensor } from './checkpoint/safetensors.js';
export { processAlive, writeFileAtomic } from './checkpoint/atomic-file.js';
export {
  CheckpointStore,
  paramSetFromSafetensors,
  paramSetToSafetensors,
  type Checkpoint,
  type CheckpointMeta,
  type CheckpointStoreOptions,
  type StoredDType,
} from './checkpoint/store.js';

/** The training engine (graph builder, op registry with gradients, autodiff, sessions), as one namespace. */
export * as engine from './engine/index.js';
export { EngineError, type EngineErrorCode } from './engine/errors.js';

/** Datasets from installed packages, normalisation, seeded batches and partitioners, as one namespace. */
export * as data from './data/index.js';
export * from './data/index.js';

/** The character transformer, mixtures of experts, supernets and their slices, as one namespace. */
export * as models from './models/index.js';
/** Text corpora (SOTU per president, Moby-Dick), a character vocabulary and LEAF windows, as one namespace. */
export * as text from './text/index.js';

/** Tasks: model family + slice space + data + local training + evaluation, selected by name in every runtime. */
export * as tasks from './tasks/index.js';
export { TaskError, createTask, type Task, type Subnetwork, type SubnetSpec, type PartitionSpec as TaskPartition } from './tasks/index.js';
