/**
 * Every kernel refuses bad arguments with a KernelError carrying a stable `code`,
 * so callers (codecs, strategies, the CLI) can map it to one clear line for the user.
 */
export type KernelErrorCode =
  | 'KERNEL_LENGTH_MISMATCH' // two buffers that must agree in length do not
  | 'KERNEL_BLOCK_SIZE' // block or chunk size out of range, or not dividing the data
  | 'KERNEL_NON_FINITE' // NaN or Infinity where a finite number is required
  | 'KERNEL_BAD_ARGUMENT'; // any other out-of-range argument (k, weights, counts, ...)

export class KernelError extends Error {
  readonly code: KernelErrorCode;
  constructor(code: KernelErrorCode, message: string) {
    super(message);
    this.name = 'KernelError';
    this.code = code;
  }
}

/** Throws KERNEL_LENGTH_MISMATCH unless `actual === expected`; `what` names the buffer. */
export function expectLength(what: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new KernelError('KERNEL_LENGTH_MISMATCH', `${what}: length ${actual}, expected ${expected}`);
  }
}

/** Throws KERNEL_NON_FINITE unless `value` is finite; `what` names the value. */
export function expectFinite(what: string, value: number): void {
  if (!Number.isFinite(value)) {
    throw new KernelError('KERNEL_NON_FINITE', `${what} is ${value}, expected a finite number`);
  }
}

/** Throws KERNEL_BAD_ARGUMENT unless `value` is an integer in [min, max]. */
export function expectIntInRange(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new KernelError('KERNEL_BAD_ARGUMENT', `${what} is ${value}, expected an integer in [${min}, ${max}]`);
  }
}
