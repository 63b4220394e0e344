/**
 * The two synchronisation algorithms behind one interface: what a peer computes for a step
 * (its contribution), how it folds everyone's contributions into the shared parameters, and
 * the state a joining peer must copy to stay bit-identical with the others.
 */
import { ParamSet, type EncodedTensor, type TensorSpec } from '@fednode/core';
import { DemoSync, DilocoSync, contributionProblem, type Contributions } from '@fednode/aggregator';
import { engine } from '@fednode/core';
import { sha256 } from '../net/crypto.js';
import type { PeerTask } from './peer-task.js';
import type { PeerRunFile } from './peer-run-file.js';
import { syncSteps } from './sync-steps.js';

export interface SyncAlgorithm {
  readonly name: 'demo' | 'diloco';
  /** Inner training steps per synchronisation step (1 for DeMo, H for DiLoCo). */
  readonly innerSteps: number;
  /** Trains towards synchronisation step `step` and returns this peer's contribution and mean loss. */
  contribute(step: number): Promise<{ tensors: EncodedTensor[]; loss: number }>;
  /** Why a received contribution cannot be aggregated, or null. */
  problem(tensors: readonly EncodedTensor[]): string | null;
  /** Applies step `step` from every contribution (ours included). Synchronous: the state is never seen half-updated. */
  apply(step: number, contributions: Contributions): void;
  /** The shared parameters (θ). */
  params(): ParamSet;
  /** Everything a joining peer copies: the parameters plus shared optimiser state, as one parameter set. */
  snapshot(): ParamSet;
  snapshotSpecs(): TensorSpec[];
  /**
   * Adopts a snapshot served by another peer. Our local state (momentum, residuals) restarts,
   * unless `keepLocal`: a member that was only cut off still owns the error-feedback state it
   * built, and what it has not yet sent is still owed to the run (DeMo keeps its momentum).
   */
  adopt(snapshot: ParamSet, keepLocal?: boolean): void;
  /** A digest and norm of this peer's own state (DeMo's momentum), or null where it has none of its own to keep. */
  localState(): LocalState | null;
  /** Dense fp32 bytes of one contribution, the yardstick for compression. */
  readonly denseBytes: number;
}

export interface LocalState {
  /** SHA-256 (hex) of the state's fp32 values in spec order. */
  readonly digest: string;
  /** Its L2 norm: zero after a reset. */
  readonly norm: number;
}

/** What DeMo needs of a task: the loss and gradients of this peer's next batch at given parameters. */
export interface GradientSource {
  gradients(params: ParamSet): Promise<{ loss: number; grads: ParamSet }>;
}

/** The run document's synchronisation section: all the algorithms read of it. */
type SyncOf = Pick<PeerRunFile, 'sync'>;

function schedule(run: SyncOf): (innerStep: number) => number {
  const s = run.sync;
  // The one schedule of every local loop, over the run's inner steps.
  const spec: engine.LrScheduleSpec = { kind: 'cosine', warmupSteps: s.warmupSteps ?? 0, minLrFraction: s.minLrFraction ?? 0.1 };
  return (i) => engine.learningRate(spec, s.lr, i, s.steps);
}

export class DemoAlgorithm implements SyncAlgorithm {
  readonly name = 'demo';
  readonly innerSteps = 1;
  readonly denseBytes: number;
  private readonly sync: DemoSync;
  private theta: ParamSet;
  private readonly lr: (i: number) => number;

  constructor(
    private readonly task: GradientSource,
    initial: ParamSet,
    run: SyncOf,
  ) {
    this.sync = new DemoSync(initial.specs, run.sync.demo ?? {});
    this.theta = initial.clone();
    this.lr = schedule(run);
    this.denseBytes = initial.size * 4;
  }

  async contribute(step: number): Promise<{ tensors: EncodedTensor[]; loss: number }> {
    const { loss, grads } = await this.task.gradients(this.theta);
    return { tensors: this.sync.compress(grads, this.lr(step)), loss };
  }

  problem(tensors: readonly EncodedTensor[]): string | null {
    return contributionProblem(this.sync.specs, this.sync.codecs, tensors);
  }

  apply(step: number, contributions: Contributions): void {
    this.sync.apply(this.theta, contributions, this.lr(step));
  }

  params(): ParamSet {
    return this.theta;
  }

  snapshot(): ParamSet {
    return this.theta.clone();
  }

  snapshotSpecs(): TensorSpec[] {
    return [...this.theta.specs];
  }

  adopt(snapshot: ParamSet, keepLocal = false): void {
    if (!snapshot.sameLayout(this.theta)) throw new Error('the served parameters do not match the model');
    this.theta = snapshot.clone();
    // The momentum is compressed against the shared θ only through the gradients it folded in,
    // never against θ itself, so it stays valid error feedback on the adopted parameters.
    if (!keepLocal) this.sync.reset();
  }

  localState(): LocalState {
    const parts = this.sync.state();
    const all = new Float32Array(parts.reduce((n, d) => n + d.length, 0));
    let at = 0;
    for (const d of parts) {
      all.set(d, at);
      at += d.length;
    }
    let sq = 0;
    for (let i = 0; i < all.length; i++) sq += all[i] * all[i];
    const digest = Array.from(sha256(new Uint8Array(all.buffer)), (b) => b.toString(16).padStart(2, '0')).join('');
    return { digest, norm: Math.sqrt(sq) };
  }
}

const MOMENTUM = 'outer.momentum/';

export class DilocoAlgorithm implements SyncAlgorithm {
  readonly name = 'diloco';
  readonly innerSteps: number;
  readonly denseBytes: number;
  private readonly sync: DilocoSync;
  private readonly lr: (i: number) => number;
  /** The outer step that lands on the peers' average, or -1 for none. */
  private readonly averageAt: number;

  constructor(
    private readonly task: PeerTask,
    initial: ParamSet,
    run: PeerRunFile,
  ) {
    const d = run.sync.diloco!;
    this.innerSteps = d.innerSteps;
    this.sync = new DilocoSync(initial, {
      outerLr: d.outerLr,
      outerMomentum: d.outerMomentum,
      codec: { codec: d.codec ?? 'int8', blockSize: d.blockSize ?? 256 },
      errorFeedback: d.errorFeedback ?? true,
    });
    task.restartInner(initial, false);
    this.lr = schedule(run);
    this.denseBytes = initial.size * 4;
    this.averageAt = d.finalAverage === false ? -1 : syncSteps(run) - 1;
  }

  async contribute(step: number): Promise<{ tensors: EncodedTensor[]; loss: number }> {
    let sum = 0;
    for (let h = 0; h < this.innerSteps; h++) sum += await this.task.innerStep(this.lr(step * this.innerSteps + h));
    return { tensors: this.sync.compress(await this.task.innerParams()), loss: sum / this.innerSteps };
  }

  problem(tensors: readonly EncodedTensor[]): string | null {
    return contributionProblem(this.sync.specs, this.sync.codecs, tensors);
  }

  apply(step: number, contributions: Contributions): void {
    this.sync.apply(contributions, step === this.averageAt);
    // The inner model restarts from θ; AdamW's moments carry over (spec 3).
    this.task.restartInner(this.sync.global, true);
  }

  params(): ParamSet {
    return this.sync.global;
  }

  snapshotSpecs(): TensorSpec[] {
    const specs = this.sync.specs;
    return [...specs, ...specs.map((s) => ({ name: MOMENTUM + s.name, shape: s.shape })), { name: 'outer.steps', shape: [1] }];
  }

  snapshot(): ParamSet {
    const shared = this.sync.shared();
    const out = ParamSet.zeros(this.snapshotSpecs());
    const n = shared.params.size;
    out.data.set(shared.params.data, 0);
    out.data.set(shared.momentum, n);
    out.data[2 * n] = shared.outerSteps;
    return out;
  }

  /** DiLoCo's error-feedback residual lives in DilocoSync and restarts with every adopt. */
  localState(): null {
    return null;
  }

  adopt(snapshot: ParamSet): void {
    const n = this.sync.global.size;
    if (snapshot.size !== 2 * n + 1) throw new Error('the served DiLoCo state does not match the model');
    const params = ParamSet.wrap(this.sync.specs, snapshot.data.slice(0, n));
    this.sync.adopt({ params, momentum: snapshot.data.slice(n, 2 * n), outerSteps: snapshot.data[2 * n] });
    // A joining peer's inner optimiser starts fresh from θ.
    this.task.restartInner(params, false);
  }
}
