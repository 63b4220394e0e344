/**
 * The part of @fednode/core that runs anywhere (Node and browsers alike): parameter sets,
 * slices, codecs with error feedback, updates and the wire format. index.ts (Node) and
 * browser.ts both export it.
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
