import { expectIntInRange } from '../errors.js';
import { expectBuffers, expectNonNegative, expectRange } from './checks.js';

/** Options for {@link adamwStep}; names and defaults follow torch.optim.AdamW. */
export interface AdamWOptions {
  /** Learning rate, finite and >= 0. */
  lr: number;
  /** First-moment decay in [0, 1). Default 0.9. */
  beta1?: number;
  /** Second-moment decay in [0, 1). Default 0.999. */
  beta2?: number;
  /** Added to √v̂ in the denominator, finite and >= 0. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay, finite and >= 0. Default 0.01. */
  weightDecay?: number;
  /** 1-based step number t of this update, used for bias correction. */
  step: number;
}

/** torch.optim.AdamW defaults used by {@link adamwStep}. */
export const ADAMW_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 } as const;

/**
 * One AdamW step in place (torch.optim.AdamW, amsgrad off):
 * ```
 * p *= 1 − lr·weightDecay
 * m = β1·m + (1 − β1)·g
 * v = β2·v + (1 − β2)·g²
 * p -= lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + eps)
 * ```
 * `p`, `g` and the caller-owned moment buffers `m`, `v` (zero before step 1) are flat
 * Float32Arrays of one length; `g` is the gradient (descent is −g). Each element is
 * computed in float64 and stored as float32; the update uses the float64 moments.
 */
export function adamwStep(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  options: AdamWOptions,
): void {
  const lr = options.lr;
  const b1 = options.beta1 ?? ADAMW_DEFAULTS.beta1;
  const b2 = options.beta2 ?? ADAMW_DEFAULTS.beta2;
  const eps = options.eps ?? ADAMW_DEFAULTS.eps;
  const wd = options.weightDecay ?? ADAMW_DEFAULTS.weightDecay;
  const t = options.step;
  expectBuffers(p, g, 'g', [
    ['m', m],
    ['v', v],
  ]);
  expectNonNegative('lr', lr);
  expectRange('beta1', b1, 0, 1, true);
  expectRange('beta2', b2, 0, 1, true);
  expectNonNegative('eps', eps);
  expectNonNegative('weightDecay', wd);
  expectIntInRange('step', t, 1, Number.MAX_SAFE_INTEGER);
  const decay = 1 - lr * wd;
  const stepSize = lr / (1 - Math.pow(b1, t));
  // Dividing √v by √(1 − β2^t) matches PyTorch's order of operations (before adding eps).
  const invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(b2, t));
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = b1 * m[i] + c1 * gi;
    const vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);
  }
}
