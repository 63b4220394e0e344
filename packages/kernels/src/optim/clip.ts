import { KernelError } from '../errors.js';
import { l2Norm, scaleInto } from '../reduce/vector.js';
import { expectRange } from './checks.js';

/**
 * Scales `g` in place so its L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_ over one flat buffer: with N = ‖g‖₂,
 * `g *= min(1, maxNorm / (N + 1e-6))`. Returns N (before clipping). DiLoCo clips the
 * inner gradients to norm 1.0. (For the exact u·min(1, C/‖u‖) over several tensors of
 * DP-FedAvg, use `clipByGlobalNorm`.)
 * Throws KERNEL_NON_FINITE, leaving `g` untouched, when N is NaN or Infinity.
 */
export function clipGradNorm(g: Float32Array, maxNorm: number): number {
  expectRange('maxNorm', maxNorm, 0, Infinity);
  const norm = l2Norm(g);
  if (!Number.isFinite(norm)) {
    throw new KernelError('KERNEL_NON_FINITE', `gradient norm is ${norm}, expected a finite number`);
  }
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) scaleInto(g, coef, g);
  return norm;
}
