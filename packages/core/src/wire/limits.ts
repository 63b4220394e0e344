/** Limits applied to everything decoded off the wire. Run files may lower or raise them. */
export interface WireLimits {
  /** Largest single protobuf message (header or chunk frame), in bytes. */
  readonly maxMessageBytes: number;
  /** Largest payload of one tensor, in bytes. */
  readonly maxTensorBytes: number;
  /** Largest sum of an update's or model's payloads, in bytes. */
  readonly maxTotalBytes: number;
  readonly maxTensors: number;
  readonly maxDims: number;
  readonly maxStringBytes: number;
  readonly maxMetrics: number;
  /** Largest index list of one axis selection. */
  readonly maxSliceIndices: number;
}

export const DEFAULT_WIRE_LIMITS: WireLimits = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxTensorBytes: 1024 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024 - 1,
  maxTensors: 4096,
  maxDims: 8,
  maxStringBytes: 256,
  maxMetrics: 64,
  maxSliceIndices: 1 << 20,
});

/** Protocol version spoken by this build; decoders refuse any other. */
export const PROTOCOL_VERSION = 1;
