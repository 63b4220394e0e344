import { CoreError } from '../errors.js';

/** Throws UPDATE_NON_FINITE naming the first NaN or Infinity in `a`. */
export function expectAllFinite(a: Float32Array, field: string): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    // v - v is 0 for every finite v and NaN for NaN and ±Infinity.
    if (v - v !== 0) throw new CoreError('UPDATE_NON_FINITE', `element ${i} is ${v}`, field);
  }
}
