import { expectIntInRange } from '../errors.js';

/**
 * DeMo's chunk size for a dimension of size `n`: the largest divisor of `n` that is
 * <= `requested` (spec section 4, step 3). Examples: (768, 64) → 64, (100, 64) → 50,
 * (50257, 64) → 29, (48, 64) → 48. A prime n larger than `requested` gets chunk 1.
 *
 * @throws KernelError KERNEL_BAD_ARGUMENT when n or requested is not an integer >= 1.
 */
export function demoChunkSize(n: number, requested: number): number {
  expectIntInRange('n', n, 1, Number.MAX_SAFE_INTEGER);
  expectIntInRange('requested', requested, 1, Number.MAX_SAFE_INTEGER);
  for (let d = Math.min(n, requested); d > 1; d--) if (n % d === 0) return d;
  return 1;
}
