import { KernelError, expectIntInRange } from '../errors.js';

/** Largest chunk the top-k index arrays can address (Uint16 indices). */
export const MAX_CHUNK = 65536;

/** Throws KERNEL_BLOCK_SIZE unless `chunk` is an integer in [1, max] dividing `length`. */
export function expectChunk(what: string, chunk: number, length: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > max) {
    throw new KernelError('KERNEL_BLOCK_SIZE', `${what} is ${chunk}, expected an integer in [1, ${max}]`);
  }
  if (length % chunk !== 0) {
    throw new KernelError('KERNEL_BLOCK_SIZE', `${what} ${chunk} does not divide the length ${length}`);
  }
}

/** Throws KERNEL_BAD_ARGUMENT unless `x` is an integer >= 1. */
export function expectPositiveInt(what: string, x: number): void {
  expectIntInRange(what, x, 1, Number.MAX_SAFE_INTEGER);
}

/**
 * Throws KERNEL_BAD_ARGUMENT when `a` and `b` share memory other than exactly (same buffer,
 * same offset, same length): chunk kernels tolerate exact in-place use, but a shifted
 * overlap would let one chunk's output overwrite the next chunk's input.
 */
export function expectSameOrDisjoint(what: string, a: ArrayBufferView, b: ArrayBufferView): void {
  if (a.buffer !== b.buffer) return;
  const a0 = a.byteOffset;
  const a1 = a0 + a.byteLength;
  const b0 = b.byteOffset;
  const b1 = b0 + b.byteLength;
  if (a0 === b0 && a1 === b1) return;
  if (a1 <= b0 || b1 <= a0) return;
  throw new KernelError('KERNEL_BAD_ARGUMENT', `${what} partially overlaps its input; use the same view or a disjoint buffer`);
}

/** True when `a` and `b` are views of the same memory (the in-place case). */
export function aliases(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset;
}

/**
 * Throws KERNEL_BAD_ARGUMENT unless `idx` has the element type top-k uses for `chunk`:
 * Uint8Array for chunk <= 256, Uint16Array above (see topkIndexArray).
 */
export function expectIndexArray(what: string, idx: Uint8Array | Uint16Array, chunk: number): void {
  const ok = chunk <= 256 ? idx instanceof Uint8Array : idx instanceof Uint16Array;
  if (!ok) {
    const want = chunk <= 256 ? 'Uint8Array' : 'Uint16Array';
    throw new KernelError('KERNEL_BAD_ARGUMENT', `${what} must be a ${want} for chunk ${chunk}, got ${idx.constructor.name}`);
  }
}
