/**
 * Typed errors of the one-shot merge functions. Each has a stable `code` that callers and
 * tests match on, and, where one argument is to blame, its name in `field`.
 */
export type MergeErrorCode =
  | 'MERGE_LAYOUT' // models (or the base) do not share names and shapes, or a named tensor is missing
  | 'MERGE_ARGUMENT' // an option out of range: weights, density, p, t, k, layer shapes
  | 'MERGE_NON_FINITE'; // NaN or Infinity in a model where the method would propagate it silently

export class MergeError extends Error {
  readonly code: MergeErrorCode;
  readonly field: string | undefined;
  constructor(code: MergeErrorCode, message: string, field?: string) {
    super(field === undefined ? message : `${field}: ${message}`);
    this.name = 'MergeError';
    this.code = code;
    this.field = field;
  }
}
