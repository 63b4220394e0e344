/**
 * Typed errors of @fednode/core. Each has a stable `code` that callers and tests match on,
 * and, where one field of the input is to blame, its dotted path in `field`.
 */
export type CoreErrorCode =
  // wire messages
  | 'WIRE_DECODE' // not a well-formed protobuf message
  | 'WIRE_VERSION' // unknown protocol version
  | 'WIRE_LIMIT' // a count or size over the configured limit
  | 'WIRE_FIELD' // a missing or out-of-range field
  | 'WIRE_LENGTH' // declared and actual lengths disagree
  // updates and codecs
  | 'UPDATE_CODEC' // unknown codec or bad codec parameters
  | 'UPDATE_SHAPE' // shape does not match the model and the slice
  | 'UPDATE_INDEX' // a top-k index outside its chunk, or repeated
  | 'UPDATE_NON_FINITE' // NaN or Infinity in a payload
  // slices and parameter sets
  | 'SLICE_INVALID'
  | 'PARAMS_LAYOUT'
  // checkpoints
  | 'CHECKPOINT_TRUNCATED'
  | 'CHECKPOINT_CORRUPT'
  | 'CHECKPOINT_MISSING';

export class CoreError extends Error {
  readonly code: CoreErrorCode;
  readonly field: string | undefined;
  constructor(code: CoreErrorCode, message: string, field?: string) {
    super(field === undefined ? message : `${field}: ${message}`);
    this.name = 'CoreError';
    this.code = code;
    this.field = field;
  }
}
