import { signStep } from '@fednode/kernels';
import { codecFor, demoAccumulate, demoFinish, resolveCodec, type DemoParams, type DemoValues, type EncodedTensor, type ParamSet, type TensorCodecParams, type TensorSpec } from '@fednode/core';
import { AggregatorError } from '../errors.js';
import { checkContributions, peerOrder, type Contributions } from './contributions.js';

/**
 * DeMo (spec section 4) as one peer runs it, with no server. Each step:
 *   compress: δ ← β·δ + η·∇; send the top-k DCT coefficients of δ per chunk; δ −= what was sent
 *   apply:    G = IDCT(each coefficient averaged over the peers that selected it);
 *             p ← p·(1 − η·wd) − η·sign(G)
 * The momentum δ is this peer's own state; the parameters stay identical across peers as
 * long as they apply the same contributions.
 */
export interface DemoSyncConfig {
  /** Momentum decay β (`compression_decay`), in [0, 1). Default 0.999. */
  readonly beta?: number;
  /** Coefficients kept per chunk of a 2-D tensor (default 32). */
  readonly topk?: number;
  /** Coefficients kept per chunk of a 1-D tensor (default 8: the reference's 32 of 64 costs more than dense). */
  readonly topk1d?: number;
  /** Requested chunk size per axis (default 64; the largest divisor of the axis not above it). */
  readonly chunk?: number;
  /** fp16 values (default) or 1-bit signs with a per-chunk scale. */
  readonly values?: DemoValues;
  /** Decoupled weight decay (default 0). */
  readonly weightDecay?: number;
}

export const DEMO_SYNC_DEFAULTS = { beta: 0.999, topk: 32, topk1d: 8, chunk: 64, values: 'fp16', weightDecay: 0 } as const;

export class DemoSync {
  /** Resolved codec parameters per tensor, in spec order; every peer of a run derives the same. */
  readonly codecs: readonly DemoParams[];
  private readonly momentum: Float32Array[];
  private readonly beta: number;
  private readonly weightDecay: number;
  private steps = 0;

  constructor(
    readonly specs: readonly TensorSpec[],
    config: DemoSyncConfig = {},
  ) {
    const c = { ...DEMO_SYNC_DEFAULTS, ...config };
    if (!(c.beta >= 0 && c.beta < 1)) throw new AggregatorError('AGG_CONFIG', `demo: beta ${c.beta} must be in [0, 1)`);
    if (!(c.weightDecay >= 0)) throw new AggregatorError('AGG_CONFIG', `demo: weightDecay ${c.weightDecay} must be >= 0`);
    for (const [k, v] of [['topk', c.topk], ['topk1d', c.topk1d], ['chunk', c.chunk]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new AggregatorError('AGG_CONFIG', `demo: ${k} ${v} must be a positive integer`);
    }
    this.beta = c.beta;
    this.weightDecay = c.weightDecay;
    this.codecs = specs.map((s) => resolveCodec({ codec: 'demo', chunk: c.chunk, topk: s.shape.length >= 2 ? c.topk : c.topk1d, values: c.values }, s.shape) as DemoParams);
    this.momentum = specs.map((s) => new Float32Array(s.shape.reduce((a, d) => a * d, 1)));
  }

  /** Steps compressed so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** The local half of a step: folds η·∇ into the momentum and returns what to send. */
  compress(grads: ParamSet, lr: number): EncodedTensor[] {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new AggregatorError('AGG_CONFIG', `demo: learning rate ${lr} must be finite and >= 0`);
    const out = this.specs.map((s, i) => {
      const g = grads.tensor(s.name);
      const d = this.momentum[i];
      if (g.length !== d.length) throw new AggregatorError('AGG_LAYOUT', `demo: gradient ${s.name} has ${g.length} values, expected ${d.length}`);
      for (let j = 0; j < d.length; j++) d[j] = this.beta * d[j] + lr * g[j];
      const params = this.codecs[i];
      // encode writes δ − decode(payload) into the residual (reference step 5); it reads δ
      // while writing, so the residual goes to a scratch array first.
      const residual = this.scratchOf(d.length);
      const payload = codecFor(params).encode(d, s.shape, params, residual);
      d.set(residual);
      return { name: s.name, shape: s.shape, params: params as TensorCodecParams, payload };
    });
    this.steps++;
    return out;
  }

  /** The global half: decodes every peer's contribution (ours included) and takes the sign step on `params`. */
  apply(params: ParamSet, contributions: Contributions, lr: number): void {
    checkContributions(this.specs, this.codecs, contributions);
    const order = peerOrder(contributions);
    const decay = 1 - lr * this.weightDecay;
    const n = Math.max(...this.momentum.map((d) => d.length));
    // One set of buffers for every tensor and step: this runs at every step of a run.
    if (this.sum.length < n) {
      this.sum = new Float32Array(n);
      this.count = new Uint32Array(n);
      this.decoded = new Float32Array(n);
    }
    this.specs.forEach((s, i) => {
      const size = this.momentum[i].length;
      const sum = this.sum.subarray(0, size).fill(0);
      const count = this.count.subarray(0, size).fill(0);
      for (const peer of order) demoAccumulate(contributions.get(peer)![i].payload, s.shape, this.codecs[i], sum, count, `${peer}:${s.name}`);
      const g = this.decoded.subarray(0, size);
      demoFinish(sum, count, s.shape, this.codecs[i], g);
      const p = params.tensor(s.name);
      if (this.weightDecay > 0) for (let j = 0; j < size; j++) p[j] *= decay;
      signStep(p, g, lr);
    });
  }

  private scratch = new Float32Array(0);
  private sum = new Float32Array(0);
  private count = new Uint32Array(0);
  private decoded = new Float32Array(0);
  private scratchOf(n: number): Float32Array {
    if (this.scratch.length < n) this.scratch = new Float32Array(n);
    return this.scratch.subarray(0, n);
  }

  /** The momentum, for saving beside the parameters. */
  state(): readonly Float32Array[] {
    return this.momentum;
  }

  /** Forgets the momentum (a peer that re-synchronised from another starts its own afresh). */
  reset(): void {
    for (const d of this.momentum) d.fill(0);
  }
}
