import { fedOptStep, momentumStep, axpy, DILOCO_OUTER_LR, DILOCO_OUTER_MOMENTUM, FEDOPT_DEFAULTS } from '@fednode/kernels';
import { AggregatorError } from './errors.js';

/**
 * How the server turns the mean update Δ̄ (update convention, x̄ − x_t) into the next model.
 * - sgd: x ← x + lr·Δ̄ (lr 1 is FedAvg; FedBuff's server step; FedAsync's mixing)
 * - fedavgm: Flower's FedAvgM, momentum on the pseudo-gradient −Δ̄ (lr 1, momentum 0)
 * - fedadam / fedyogi / fedadagrad: Flower's FedOpt (lr 0.1, β1 0.9, β2 0.99, τ 1e-9, v0 0)
 * - diloco: torch SGD with Nesterov on the pseudo-gradient (lr 0.7, momentum 0.9)
 */
export type ServerOptimizerConfig =
  | { readonly kind: 'sgd'; readonly lr?: number }
  | { readonly kind: 'fedavgm'; readonly lr?: number; readonly momentum?: number }
  | {
      readonly kind: 'fedadam' | 'fedyogi' | 'fedadagrad';
      readonly lr?: number;
      readonly beta1?: number;
      readonly beta2?: number;
      readonly tau?: number;
      readonly v0?: number;
    }
  | { readonly kind: 'diloco'; readonly lr?: number; readonly momentum?: number };

export interface ServerOptimizerState {
  steps: number;
  /** Momentum buffer (fedavgm, diloco) or first moment (fedopt). */
  m: Float32Array | null;
  /** Second moment (fedopt). */
  v: Float32Array | null;
}

const KINDS = new Set(['sgd', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'diloco']);

export function checkServerOptimizer(c: ServerOptimizerConfig): void {
  if (!KINDS.has(c.kind)) throw new AggregatorError('AGG_CONFIG', `server optimizer "${c.kind}" is not one of ${[...KINDS].join(', ')}`);
  for (const [k, v] of Object.entries(c)) {
    if (k !== 'kind' && (typeof v !== 'number' || !Number.isFinite(v))) {
      throw new AggregatorError('AGG_CONFIG', `server optimizer ${c.kind}: ${k} is ${String(v)}, expected a finite number`);
    }
  }
}

export function newServerOptimizerState(c: ServerOptimizerConfig, size: number): ServerOptimizerState {
  switch (c.kind) {
    case 'sgd':
      return { steps: 0, m: null, v: null };
    case 'fedavgm':
    case 'diloco':
      return { steps: 0, m: new Float32Array(size), v: null };
    default:
      return { steps: 0, m: new Float32Array(size), v: new Float32Array(size).fill(c.v0 ?? 0) };
  }
}

/**
 * One server step on `x` in place. With `covered` given, elements no update covered are
 * left exactly as they were, parameters and optimiser state alike (slices: "untouched
 * where nobody covers it"), even for optimisers whose momentum would otherwise move them.
 */
export function serverStep(
  c: ServerOptimizerConfig,
  s: ServerOptimizerState,
  x: Float32Array,
  meanDelta: Float32Array,
  covered: Uint8Array | null,
): void {
  const keep = covered === null ? null : snapshotUncovered(covered, [x, s.m, s.v]);
  switch (c.kind) {
    case 'sgd':
      axpy(c.lr ?? 1, meanDelta, x);
      break;
    case 'fedavgm':
    case 'diloco': {
      const g = negated(meanDelta);
      const diloco = c.kind === 'diloco';
      const momentum = c.momentum ?? (diloco ? DILOCO_OUTER_MOMENTUM : 0);
      momentumStep(x, g, s.m!, {
        lr: c.lr ?? (diloco ? DILOCO_OUTER_LR : 1),
        momentum,
        // torch refuses Nesterov without momentum; with momentum 0 both are plain SGD.
        nesterov: diloco && momentum > 0,
        first: s.steps === 0,
      });
      break;
    }
    default:
      fedOptStep(x, meanDelta, s.m!, s.v!, {
        variant: c.kind === 'fedadam' ? 'adam' : c.kind === 'fedyogi' ? 'yogi' : 'adagrad',
        lr: c.lr ?? FEDOPT_DEFAULTS.lr,
        beta1: c.beta1 ?? FEDOPT_DEFAULTS.beta1,
        beta2: c.beta2 ?? FEDOPT_DEFAULTS.beta2,
        tau: c.tau ?? FEDOPT_DEFAULTS.tau,
      });
  }
  s.steps++;
  keep?.();
}

function negated(a: Float32Array): Float32Array {
  const g = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) g[i] = -a[i];
  return g;
}

/** Saves the uncovered elements of each array; the returned function puts them back. */
function snapshotUncovered(covered: Uint8Array, arrays: (Float32Array | null)[]): () => void {
  const idx: number[] = [];
  for (let i = 0; i < covered.length; i++) if (covered[i] === 0) idx.push(i);
  const saved = arrays.map((a) => (a === null ? null : Float32Array.from(idx, (i) => a[i])));
  return () => {
    arrays.forEach((a, k) => {
      const s = saved[k];
      if (a === null || s === null) return;
      for (let j = 0; j < idx.length; j++) a[idx[j]] = s[j];
    });
  };
}
