import { KernelError, expectFinite, expectLength } from '../errors.js';

/**
 * Throws KERNEL_NON_FINITE for NaN/Infinity, then KERNEL_BAD_ARGUMENT unless
 * `min <= value` and `value <= max` (or `value < max` when `maxOpen`).
 */
export function expectRange(what: string, value: number, min: number, max: number, maxOpen = false): void {
  expectFinite(what, value);
  if (value < min || (maxOpen ? value >= max : value > max)) {
    const hi = maxOpen ? `${max})` : `${max}]`;
    throw new KernelError('KERNEL_BAD_ARGUMENT', `${what} is ${value}, expected a value in [${min}, ${hi}`);
  }
}

/** Learning rates and decay factors: finite and >= 0 (PyTorch rejects negative ones too). */
export function expectNonNegative(what: string, value: number): void {
  expectRange(what, value, 0, Infinity);
}

/**
 * Checks that every buffer has `p`'s length and that state buffers are distinct objects
 * from the parameters, the gradient and each other: an aliased state buffer would be
 * read after it was overwritten, giving silent garbage.
 */
export function expectBuffers(
  p: Float32Array,
  g: Float32Array,
  gName: string,
  states: ReadonlyArray<readonly [string, Float32Array]>,
): void {
  expectLength(gName, g.length, p.length);
  for (let i = 0; i < states.length; i++) {
    const [name, buf] = states[i];
    expectLength(name, buf.length, p.length);
    if (buf === p || buf === g) {
      throw new KernelError('KERNEL_BAD_ARGUMENT', `${name} must be its own buffer, not the parameters or ${gName}`);
    }
    for (let j = 0; j < i; j++) {
      if (states[j][1] === buf) {
        throw new KernelError('KERNEL_BAD_ARGUMENT', `${name} and ${states[j][0]} must be different buffers`);
      }
    }
  }
}
