import type { ChunkKernel } from './chunk-kernel.js';
import { tableForward, tableInverse } from './table.js';
import { UNROLLED_FORWARD, UNROLLED_INVERSE } from './unrolled.js';

/** The fastest available forward (DCT-II) kernel for chunk size `c`: generated if any, else a table. */
export function forwardKernel(c: number): ChunkKernel {
  return UNROLLED_FORWARD.get(c) ?? tableForward(c);
}

/** The fastest available inverse (DCT-III) kernel for chunk size `c`. */
export function inverseKernel(c: number): ChunkKernel {
  return UNROLLED_INVERSE.get(c) ?? tableInverse(c);
}
