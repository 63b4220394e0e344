/**
 * Errors of the model builders, supernets and slices. Each has a stable `code`; the message
 * is one line naming the config field or slice at fault.
 */
export type ModelErrorCode =
  | 'MODEL_CONFIG' // a model or sub-network config that does not fit (sizes, ratios, k > experts)
  | 'MODEL_SLICE' // a sub-network or expert set that is not part of the supernet
  | 'MODEL_TRAIN'; // bad training-loop options, or a run that produced no usable result

export class ModelError extends Error {
  readonly code: ModelErrorCode;
  constructor(code: ModelErrorCode, message: string) {
    super(message);
    this.name = 'ModelError';
    this.code = code;
  }
}

export function expectPosInt(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new ModelError('MODEL_CONFIG', `${what} is ${v}, expected a positive integer`);
}
