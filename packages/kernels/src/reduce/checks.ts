import { KernelError, expectFinite, expectLength } from '../errors.js';

/**
 * Shared argument checks for kernels that take a list of equal-length arrays. Kept here so
 * every kernel words its errors the same way and validates before touching any buffer.
 */

/** Throws unless `xs` holds at least `min` arrays, each of length `length`. */
export function expectArrayList(what: string, xs: readonly Float32Array[], length: number, min = 1): void {
  if (!Array.isArray(xs) || xs.length < min) {
    throw new KernelError('KERNEL_BAD_ARGUMENT', `${what}: ${Array.isArray(xs) ? xs.length : 'no'} arrays, expected at least ${min}`);
  }
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (!(x instanceof Float32Array)) {
      throw new KernelError('KERNEL_BAD_ARGUMENT', `${what}[${i}] is not a Float32Array`);
    }
    expectLength(`${what}[${i}]`, x.length, length);
  }
}

/** Throws unless `weights` has one finite entry per array. */
export function expectWeights(what: string, weights: ArrayLike<number>, count: number): void {
  expectLength(what, weights.length, count);
  for (let i = 0; i < count; i++) expectFinite(`${what}[${i}]`, weights[i]);
}

/** The NaN check used inside gather loops; reported with the array and element index. */
export function nanError(what: string, array: number, index: number): KernelError {
  return new KernelError('KERNEL_NON_FINITE', `${what}[${array}][${index}] is NaN`);
}
