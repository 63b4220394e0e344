import { KernelError } from '../errors.js';
import { expectBuffers, expectNonNegative, expectRange } from './checks.js';

/** Options for {@link sgdStep}. */
export interface SgdOptions {
  /** Learning rate, finite and >= 0. */
  lr: number;
  /** L2 penalty added to the gradient (coupled, as in torch.optim.SGD). Default 0. */
  weightDecay?: number;
}

/**
 * One plain SGD step in place, as torch.optim.SGD without momentum:
 * `d = g + weightDecay·p; p -= lr·d`.
 *
 * `p` and `g` are flat Float32Arrays of the same length; `g` is a gradient (descent
 * direction is −g). Each element is computed in float64 and stored once as float32.
 * NaN in `g` propagates into `p` (it is not scanned for, to keep one pass).
 */
export function sgdStep(p: Float32Array, g: Float32Array, options: SgdOptions): void {
  const lr = options.lr;
  const wd = options.weightDecay ?? 0;
  expectBuffers(p, g, 'g', []);
  expectNonNegative('lr', lr);
  expectNonNegative('weightDecay', wd);
  const n = p.length;
  if (wd === 0) {
    for (let i = 0; i < n; i++) p[i] = p[i] - lr * g[i];
  } else {
    for (let i = 0; i < n; i++) {
      const pi = p[i];
      p[i] = pi - lr * (g[i] + wd * pi);
    }
  }
}

/** Options for {@link momentumStep}; names and semantics follow torch.optim.SGD. */
export interface MomentumOptions {
  /** Learning rate, finite and >= 0. */
  lr: number;
  /** Momentum factor μ in [0, 1). */
  momentum: number;
  /** Dampening in [0, 1]; scales the new gradient after the first step. Default 0. */
  dampening?: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0 (as PyTorch). Default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
  /**
   * True on the first step for this buffer: the buffer is then set to the gradient,
   * ignoring its previous contents and the dampening (PyTorch's `buf = clone(d)`).
   */
  first: boolean;
}

/** DiLoCo outer learning rate (OpenDiLoCo default; spec section 3). */
export const DILOCO_OUTER_LR = 0.7;
/** DiLoCo outer Nesterov momentum (OpenDiLoCo default; spec section 3). */
export const DILOCO_OUTER_MOMENTUM = 0.9;
/** Flower FedAvgM default server learning rate η_s (spec section 1). */
export const FEDAVGM_SERVER_LR = 1.0;
/** Flower FedAvgM default server momentum β (spec section 1); 0 makes it FedAvg. */
export const FEDAVGM_MOMENTUM = 0.0;

/**
 * One SGD-with-momentum step in place, with torch.optim.SGD semantics:
 * ```
 * d = g + weightDecay·p
 * buf = first ? d : momentum·buf + (1 − dampening)·d
 * step = nesterov ? d + momentum·buf : buf
 * p -= lr·step
 * ```
 * `p`, `g` and the caller-owned state `buf` are flat Float32Arrays of one length.
 * `g` uses the gradient / pseudo-gradient convention (descent is −g), so:
 * - FedAvgM (spec 1): g = x_t − x̄, `{ lr: η_s, momentum: β, first: round === 1 }`.
 * - DiLoCo outer step (spec 3): g = mean over workers of θ − θ_m,
 *   `{ lr: DILOCO_OUTER_LR, momentum: DILOCO_OUTER_MOMENTUM, nesterov: true, first }`.
 *
 * Each element is computed in float64 and stored as float32; the step uses the float64
 * value of the new buffer rather than its float32 rounding.
 */
export function momentumStep(p: Float32Array, g: Float32Array, buf: Float32Array, options: MomentumOptions): void {
  const { lr, momentum: mu, first } = options;
  const dampening = options.dampening ?? 0;
  const nesterov = options.nesterov ?? false;
  const wd = options.weightDecay ?? 0;
  expectBuffers(p, g, 'g', [['buf', buf]]);
  expectNonNegative('lr', lr);
  expectRange('momentum', mu, 0, 1, true);
  expectRange('dampening', dampening, 0, 1);
  expectNonNegative('weightDecay', wd);
  if (typeof first !== 'boolean') {
    throw new KernelError('KERNEL_BAD_ARGUMENT', `first is ${String(first)}, expected a boolean`);
  }
  if (nesterov && (mu === 0 || dampening !== 0)) {
    throw new KernelError('KERNEL_BAD_ARGUMENT', 'nesterov needs momentum > 0 and dampening 0');
  }
  const n = p.length;
  const keep = mu;
  const add = 1 - dampening;
  const look = nesterov ? mu : 0;
  // Loop-invariant cases get their own loops; the first step never reads `buf`, so a
  // fresh (or stale) buffer needs no zeroing.
  if (first) {
    for (let i = 0; i < n; i++) {
      const pi = p[i];
      const d = wd === 0 ? g[i] : g[i] + wd * pi;
      buf[i] = d;
      p[i] = pi - lr * (nesterov ? d + look * d : d);
    }
  } else if (nesterov) {
    for (let i = 0; i < n; i++) {
      const pi = p[i];
      const d = wd === 0 ? g[i] : g[i] + wd * pi;
      const b = keep * buf[i] + add * d;
      buf[i] = b;
      p[i] = pi - lr * (d + look * b);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const pi = p[i];
      const d = wd === 0 ? g[i] : g[i] + wd * pi;
      const b = keep * buf[i] + add * d;
      buf[i] = b;
      p[i] = pi - lr * b;
    }
  }
}
