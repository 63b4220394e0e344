import { KernelError } from '../errors.js';
import { l2NormSquared } from './vector.js';

/**
 * Clips a multi-tensor update to global L2 norm `maxNorm`, in place: every array is
 * multiplied by min(1, maxNorm/‖u‖₂), where ‖u‖₂ is the norm over all arrays together
 * (DP-FedAvg, Flower's fixed clipping). A zero update is left unchanged. Returns the norm
 * before clipping and the scale applied (1 when nothing was clipped).
 *
 * The arrays may have different lengths; an empty list has norm 0. `maxNorm` must be finite
 * and > 0 (KERNEL_BAD_ARGUMENT / KERNEL_NON_FINITE), and the update's norm finite
 * (KERNEL_NON_FINITE, checked before anything is written).
 */
export function clipByGlobalNorm(xs: readonly Float32Array[], maxNorm: number): { norm: number; scale: number } {
  if (!Number.isFinite(maxNorm)) throw new KernelError('KERNEL_NON_FINITE', `maxNorm is ${maxNorm}, expected a finite number`);
  if (!(maxNorm > 0)) throw new KernelError('KERNEL_BAD_ARGUMENT', `maxNorm is ${maxNorm}, expected > 0`);
  if (!Array.isArray(xs)) throw new KernelError('KERNEL_BAD_ARGUMENT', 'xs is not an array');
  for (let i = 0; i < xs.length; i++) {
    if (!(xs[i] instanceof Float32Array)) throw new KernelError('KERNEL_BAD_ARGUMENT', `xs[${i}] is not a Float32Array`);
  }
  let sq = 0;
  for (let i = 0; i < xs.length; i++) sq += l2NormSquared(xs[i]);
  const norm = Math.sqrt(sq);
  if (!Number.isFinite(norm)) throw new KernelError('KERNEL_NON_FINITE', `norm of xs is ${norm}`);
  if (norm <= maxNorm) return { norm, scale: 1 };
  const scale = maxNorm / norm;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const n = x.length;
    for (let j = 0; j < n; j++) x[j] *= scale;
  }
  return { norm, scale };
}
