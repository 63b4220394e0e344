import { ErrorFeedback, ParamSet, codecFor, resolveCodec, type CodecOptions, type EncodedTensor, type TensorCodecParams, type TensorSpec } from '@fednode/core';
import { AggregatorError } from '../errors.js';
import { newServerOptimizerState, serverStep, type ServerOptimizerState } from '../server-optimizer.js';
import { checkContributions, peerOrder, type Contributions } from './contributions.js';

/**
 * DiLoCo's outer step (spec section 3) with no server: every H inner steps each peer sends
 * its pseudo-gradient, coded (int8 by default) with error feedback; every peer averages the
 * decoded contributions in the same order and takes the same Nesterov step on the shared
 * outer parameters θ. The inner optimiser (AdamW) stays with the peer's trainer.
 */
export interface DilocoSyncConfig {
  /** Outer learning rate η_out (default 0.7). */
  readonly outerLr?: number;
  /** Outer Nesterov momentum μ (default 0.9). */
  readonly outerMomentum?: number;
  /** How pseudo-gradients travel (default int8, blocks of 256). */
  readonly codec?: CodecOptions;
  /** Carry what the codec drops into the next outer step (default true). */
  readonly errorFeedback?: boolean;
}

/** The state every peer holds identically: θ, the outer momentum and the outer step count. */
export interface DilocoShared {
  readonly params: ParamSet;
  readonly momentum: Float32Array;
  readonly outerSteps: number;
}

export class DilocoSync {
  readonly codecs: readonly TensorCodecParams[];
  readonly specs: readonly TensorSpec[];
  private params: ParamSet;
  private opt: ServerOptimizerState;
  private readonly outer: { readonly kind: 'diloco'; readonly lr: number; readonly momentum: number };
  private readonly codec: CodecOptions;
  private readonly ef: ErrorFeedback | null;

  constructor(initial: ParamSet, config: DilocoSyncConfig = {}) {
    const lr = config.outerLr ?? 0.7;
    const momentum = config.outerMomentum ?? 0.9;
    if (!(lr > 0) || !Number.isFinite(lr)) throw new AggregatorError('AGG_CONFIG', `diloco: outerLr ${lr} must be > 0`);
    if (!(momentum >= 0 && momentum < 1)) throw new AggregatorError('AGG_CONFIG', `diloco: outerMomentum ${momentum} must be in [0, 1)`);
    this.outer = { kind: 'diloco', lr, momentum };
    this.codec = config.codec ?? { codec: 'int8', blockSize: 256 };
    this.ef = config.errorFeedback === false ? null : new ErrorFeedback();
    this.specs = initial.specs;
    this.codecs = initial.specs.map((s) => resolveCodec(this.codec, s.shape));
    this.params = initial.clone();
    this.opt = newServerOptimizerState(this.outer, initial.size);
  }

  /** θ: the outer parameters every peer shares (a live view; copy before mutating). */
  get global(): ParamSet {
    return this.params;
  }

  get outerSteps(): number {
    return this.opt.steps;
  }

  /** The update (local − θ, the negated pseudo-gradient) of this peer's inner model, coded. */
  compress(local: ParamSet): EncodedTensor[] {
    if (!local.sameLayout(this.params)) throw new AggregatorError('AGG_LAYOUT', 'diloco: the inner model does not have the outer model\'s layout');
    const delta = local.clone();
    const d = delta.data;
    const g = this.params.data;
    for (let i = 0; i < d.length; i++) d[i] -= g[i];
    if (this.ef !== null) return this.ef.encode(delta, this.codec);
    return delta.specs.map((s, i) => {
      const params = this.codecs[i];
      return { name: s.name, shape: s.shape, params, payload: codecFor(params).encode(delta.tensor(s.name), s.shape, params) };
    });
  }

  /**
   * Averages every contribution (ours included) and takes the outer Nesterov step on θ. With
   * `last`, θ moves to the peers' average model instead (outer lr 1, no momentum): the
   * look-ahead that speeds training overshoots once training stops (docs/decentralised.md).
   */
  apply(contributions: Contributions, last = false): void {
    checkContributions(this.specs, this.codecs, contributions);
    const order = peerOrder(contributions);
    const mean = ParamSet.zeros(this.specs);
    const scratch = ParamSet.zeros(this.specs);
    for (const peer of order) {
      const tensors = contributions.get(peer)!;
      this.specs.forEach((s, i) => codecFor(tensors[i].params).decode(tensors[i].payload, s.shape, tensors[i].params, scratch.tensor(s.name), `${peer}:${s.name}`));
      const m = mean.data;
      const x = scratch.data;
      for (let j = 0; j < m.length; j++) m[j] += x[j];
    }
    const inv = 1 / order.length;
    const m = mean.data;
    for (let j = 0; j < m.length; j++) m[j] *= inv;
    if (last) {
      const p = this.params.data;
      for (let j = 0; j < p.length; j++) p[j] += m[j];
      this.opt.steps++;
      return;
    }
    serverStep(this.outer, this.opt, this.params.data, m, null);
  }

  /** The shared state, for a peer that joins (copies). */
  shared(): DilocoShared {
    return { params: this.params.clone(), momentum: (this.opt.m ?? new Float32Array(0)).slice(), outerSteps: this.opt.steps };
  }

  /** Adopts another peer's shared state (joining or re-synchronising); our error feedback restarts. */
  adopt(s: DilocoShared): void {
    if (!s.params.sameLayout(this.params) || s.momentum.length !== this.params.size) throw new AggregatorError('AGG_LAYOUT', 'diloco: the shared state does not match the model');
    this.params = s.params.clone();
    this.opt = { steps: s.outerSteps, m: s.momentum.slice(), v: null };
    this.ef?.reset();
  }
}
