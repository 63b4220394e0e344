import { KernelError } from '../errors.js';
import { expectBuffers, expectNonNegative, expectRange } from './checks.js';

export type FedOptVariant = 'adam' | 'yogi' | 'adagrad';

/** Options for {@link fedOptStep}. Defaults are Flower's. */
export interface FedOptOptions {
  variant: FedOptVariant;
  /** Server learning rate η, finite and >= 0. Default 0.1. */
  lr?: number;
  /** First-moment decay in [0, 1). Default 0.9 (pass 0 for Flower's FedAdagrad, which has no momentum). */
  beta1?: number;
  /** Second-moment decay in [0, 1) (ignored by adagrad). Default 0.99. */
  beta2?: number;
  /** Adaptivity τ added to √v, finite and >= 0. Default 1e-9. */
  tau?: number;
}

/** Flower's FedOpt defaults (η = 0.1, β1 = 0.9, β2 = 0.99, τ = 1e-9) used by {@link fedOptStep}. */
export const FEDOPT_DEFAULTS = { lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9 } as const;

/**
 * One FedOpt server update in place (Reddi et al.; Flower's FedAdam/FedYogi/FedAdagrad),
 * without bias correction:
 * ```
 * m = β1·m + (1 − β1)·Δ̄
 * v = v + Δ̄²                              (adagrad)
 * v = β2·v + (1 − β2)·Δ̄²                  (adam)
 * v = v − (1 − β2)·Δ̄²·sign(v − Δ̄²)        (yogi)
 * x += η·m / (√v + τ)
 * ```
 * Sign convention: `delta` is the **update** Δ̄ = x̄ − x_t (weighted client average minus
 * the server model), so the step moves `x` along +Δ̄.
 * `x`, `delta` and the caller-owned state `m`, `v` are flat Float32Arrays of one length.
 * Before round 1, fill `m` with 0 and `v` with v0 (0 in Flower; Reddi et al. suggest
 * v0 ≥ τ²). Each element is computed in float64 and stored as float32.
 */
export function fedOptStep(
  x: Float32Array,
  delta: Float32Array,
  m: Float32Array,
  v: Float32Array,
  options: FedOptOptions,
): void {
  const variant = options.variant;
  const lr = options.lr ?? FEDOPT_DEFAULTS.lr;
  const b1 = options.beta1 ?? FEDOPT_DEFAULTS.beta1;
  const b2 = options.beta2 ?? FEDOPT_DEFAULTS.beta2;
  const tau = options.tau ?? FEDOPT_DEFAULTS.tau;
  expectBuffers(x, delta, 'delta', [
    ['m', m],
    ['v', v],
  ]);
  expectNonNegative('lr', lr);
  expectRange('beta1', b1, 0, 1, true);
  expectRange('beta2', b2, 0, 1, true);
  expectNonNegative('tau', tau);
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  const n = x.length;
  if (variant === 'adam') {
    for (let i = 0; i < n; i++) {
      const d = delta[i];
      const mi = b1 * m[i] + c1 * d;
      const vi = b2 * v[i] + c2 * d * d;
      m[i] = mi;
      v[i] = vi;
      x[i] = x[i] + (lr * mi) / (Math.sqrt(vi) + tau);
    }
  } else if (variant === 'yogi') {
    for (let i = 0; i < n; i++) {
      const d = delta[i];
      const d2 = d * d;
      const mi = b1 * m[i] + c1 * d;
      const vOld = v[i];
      const vi = vOld - c2 * d2 * Math.sign(vOld - d2);
      m[i] = mi;
      v[i] = vi;
      x[i] = x[i] + (lr * mi) / (Math.sqrt(vi) + tau);
    }
  } else if (variant === 'adagrad') {
    for (let i = 0; i < n; i++) {
      const d = delta[i];
      const mi = b1 * m[i] + c1 * d;
      const vi = v[i] + d * d;
      m[i] = mi;
      v[i] = vi;
      x[i] = x[i] + (lr * mi) / (Math.sqrt(vi) + tau);
    }
  } else {
    throw new KernelError('KERNEL_BAD_ARGUMENT', `variant is ${String(variant)}, expected 'adam', 'yogi' or 'adagrad'`);
  }
}
