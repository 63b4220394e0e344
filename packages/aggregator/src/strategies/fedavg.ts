import { Rng } from '@fednode/kernels';
import type { ParamSet } from '@fednode/core';
import { AggregatorError } from '../errors.js';
import { isFullModel } from '../accumulator.js';
import { checkServerOptimizer, type ServerOptimizerConfig } from '../server-optimizer.js';
import { checkRobust, robustCombine, type RobustConfig } from '../robust.js';
import { decodeState, encodeState, requireArray } from '../state.js';
import { ServerModel, type ModelJson } from './server-model.js';
import type { Acceptance, AggregateResult, ClientUpdate, Strategy } from '../types.js';
import { ACCEPTED, checkGuards, clipped, guard, refuse, type UpdateGuards } from './common.js';

/** DP-FedAvg with fixed clipping (spec 9): clip each delta to C, average, add N(0, σ²), σ = z·C/m. */
export interface DpConfig {
  readonly noiseMultiplier: number;
  readonly clipNorm: number;
  readonly seed: number;
}

export interface FedAvgConfig extends UpdateGuards {
  /** Trainers expected per round; with `backupWorkers` b the round closes when cohort − b have reported. */
  readonly cohort?: number;
  readonly backupWorkers?: number;
  /** Fewest updates a round needs, also at its deadline (default 1). */
  readonly minParticipants?: number;
  /** Weighted by example count (FedAvg, default) or uniform (HeteroFL's element-wise mean). */
  readonly weighting?: 'examples' | 'uniform';
  /** Server step on the mean delta (default sgd with lr 1: plain FedAvg). */
  readonly server?: ServerOptimizerConfig;
  /** A robust rule instead of the mean (whole-model updates only). */
  readonly robust?: RobustConfig;
  readonly dp?: DpConfig;
}

interface Stashed {
  readonly sender: string;
  readonly weight: number;
  readonly delta: Float32Array;
}

/**
 * Synchronous FedAvg (spec 1) with a server optimiser, a deadline, backup workers, slice-aware
 * averaging, optional robust aggregation and DP. Round r collects updates computed from
 * version `version`; `aggregate` makes version + 1 and opens round r + 1.
 */
export class FedAvg implements Strategy {
  readonly name = 'fedavg';
  private readonly config: FedAvgConfig;
  private model: ServerModel;
  private stash: Stashed[] = [];
  private senders = new Set<string>();
  private clippedCount = 0;
  private _version: number;
  private _round: number;
  private deadline: number | null = null;

  constructor(global: ParamSet, config: FedAvgConfig = {}, start: { version?: number; round?: number } = {}) {
    checkFedAvg(config);
    this.config = config;
    this.model = new ServerModel(global, config.server);
    this._version = start.version ?? 0;
    this._round = start.round ?? 0;
  }

  get version(): number {
    return this._version;
  }

  get round(): number {
    return this._round;
  }

  get global(): ParamSet {
    return this.model.params;
  }

  /** Updates accepted so far this round. */
  get received(): number {
    return this.senders.size;
  }

  /** Sets the current round's deadline (milliseconds in the caller's clock); null clears it. */
  setDeadline(ms: number | null): void {
    this.deadline = ms;
  }

  offer(u: ClientUpdate): Acceptance {
    const g = guard(this.config, u);
    if (g !== null) return g;
    if (u.round !== this._round) return refuse('WRONG_ROUND', `round ${u.round}, collecting round ${this._round}`);
    if (u.baseVersion !== this._version) return refuse('WRONG_BASE_VERSION', `computed from version ${u.baseVersion}, round ${this._round} trains version ${this._version}`);
    if (this.senders.has(u.sender)) return refuse('DUPLICATE_SENDER', `${u.sender} already sent an update for round ${this._round}`);
    if (this.isFull()) return refuse('ROUND_CLOSED', `round ${this._round} has all the updates it waits for`);
    const examples = this.config.weighting !== 'uniform';
    if (examples && !(u.examples > 0)) return refuse('NO_EXAMPLES', `example count ${u.examples}; FedAvg weights by examples`);
    const needsWhole = this.config.robust !== undefined || this.config.dp !== undefined;
    if (needsWhole && !isFullModel(u, this.model.params)) return refuse('NEEDS_FULL_MODEL', `${this.config.robust ? this.config.robust.kind : 'DP-FedAvg'} compares whole-model updates; this one holds a slice`);
    const clipNorm = this.config.dp?.clipNorm ?? this.config.clipNorm;
    const { update, wasClipped } = clipped(u, clipNorm);
    if (wasClipped) this.clippedCount++;
    const w = examples && this.config.dp === undefined ? u.examples : 1;
    if (needsWhole) this.stash.push({ sender: u.sender, weight: w, delta: update.delta.data.slice() });
    else this.model.acc.add(update, w, w);
    this.senders.add(u.sender);
    return ACCEPTED;
  }

  ready(nowMs?: number): boolean {
    const n = this.senders.size;
    if (n < (this.config.minParticipants ?? 1)) return false;
    if (this.isFull()) return true;
    if (this.config.cohort === undefined) return this.deadline === null || (nowMs !== undefined && nowMs >= this.deadline);
    return this.deadline !== null && nowMs !== undefined && nowMs >= this.deadline;
  }

  aggregate(nowMs?: number): AggregateResult {
    if (!this.ready(nowMs)) {
      throw new AggregatorError('AGG_NOT_READY', `round ${this._round} has ${this.senders.size} updates and is not ready`);
    }
    const metrics: Record<string, number> = { participants: this.senders.size, clipped: this.clippedCount };
    if (this.config.dp !== undefined || this.config.robust !== undefined) {
      const mean = new Float32Array(this.model.params.size);
      this.combineStash(mean, metrics);
      this.model.apply(mean, null);
    } else {
      metrics.covered_fraction = this.model.applyAccumulated();
    }
    const participants = [...this.senders];
    this._version++;
    this._round++;
    this.resetRound();
    return { version: this._version, params: this.model.params, participants, metrics };
  }

  /** DP-FedAvg or a robust rule over the stashed whole-model deltas. */
  private combineStash(mean: Float32Array, metrics: Record<string, number>): void {
    if (this.config.dp !== undefined) {
      const { noiseMultiplier: z, clipNorm: c, seed } = this.config.dp;
      const m = this.stash.length;
      for (const s of this.stash) for (let i = 0; i < mean.length; i++) mean[i] += s.delta[i] / m;
      const sigma = (z * c) / m;
      const noise = Rng.derive(seed, this._round).fillNormal(new Float32Array(mean.length), 0, sigma);
      for (let i = 0; i < mean.length; i++) mean[i] += noise[i];
      metrics.dp_sigma = sigma;
    } else if (this.config.robust !== undefined) {
      const used = robustCombine(this.config.robust, this.stash.map((s) => s.delta), this.stash.map((s) => s.weight), mean);
      metrics.robust_used = used.length;
    }
  }

  /** Ends the round without a new model (too few updates by the deadline): round + 1, same version. */
  abandonRound(): void {
    this._round++;
    this.resetRound();
  }

  saveState(): Uint8Array {
    const arrays = this.model.arrays();
    this.stash.forEach((s, i) => arrays.push([`stash.${i}`, s.delta]));
    const json = {
      config: this.config,
      model: this.model.json(),
      version: this._version,
      round: this._round,
      deadline: this.deadline,
      senders: [...this.senders],
      clipped: this.clippedCount,
      stash: this.stash.map((s) => ({ sender: s.sender, weight: s.weight })),
    };
    return encodeState(this.name, json, arrays);
  }

  static restore(bytes: Uint8Array): FedAvg {
    const s = decodeState(bytes, 'fedavg');
    const j = s.json as {
      config: FedAvgConfig;
      model: ModelJson;
      version: number;
      round: number;
      deadline: number | null;
      senders: string[];
      clipped: number;
      stash: { sender: string; weight: number }[];
    };
    const model = ServerModel.restore(s, j.model, j.config.server);
    const f = new FedAvg(model.params, j.config, { version: j.version, round: j.round });
    f.model = model;
    f.senders = new Set(j.senders);
    f.clippedCount = j.clipped;
    f.deadline = j.deadline;
    f.stash = j.stash.map((st, i) => ({ ...st, delta: requireArray(s, `stash.${i}`, model.params.size).slice() }));
    return f;
  }

  private isFull(): boolean {
    const c = this.config.cohort;
    return c !== undefined && this.senders.size >= c - (this.config.backupWorkers ?? 0);
  }

  private resetRound(): void {
    this.model.acc.reset();
    this.stash = [];
    this.senders.clear();
    this.clippedCount = 0;
    this.deadline = null;
  }
}

function checkFedAvg(c: FedAvgConfig): void {
  checkGuards(c);
  const posInt = (k: 'cohort' | 'minParticipants') => {
    const v = c[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new AggregatorError('AGG_CONFIG', `${k} is ${v}, expected an integer >= 1`);
  };
  posInt('cohort');
  posInt('minParticipants');
  const b = c.backupWorkers ?? 0;
  if (!(Number.isInteger(b) && b >= 0)) throw new AggregatorError('AGG_CONFIG', `backupWorkers is ${b}, expected an integer >= 0`);
  if (b > 0 && c.cohort === undefined) throw new AggregatorError('AGG_CONFIG', 'backupWorkers needs cohort');
  if (c.cohort !== undefined && b >= c.cohort) throw new AggregatorError('AGG_CONFIG', `backupWorkers ${b} leaves no one of a cohort of ${c.cohort}`);
  if (c.weighting !== undefined && c.weighting !== 'examples' && c.weighting !== 'uniform') throw new AggregatorError('AGG_CONFIG', `weighting "${c.weighting}" is not examples or uniform`);
  if (c.server) checkServerOptimizer(c.server);
  if (c.robust) checkRobust(c.robust);
  if (c.robust && c.dp) throw new AggregatorError('AGG_CONFIG', 'choose robust aggregation or DP-FedAvg, not both');
  if (c.dp) {
    const { noiseMultiplier: z, clipNorm: cl, seed } = c.dp;
    if (!(Number.isFinite(z) && z >= 0) || !(Number.isFinite(cl) && cl > 0) || !Number.isInteger(seed)) {
      throw new AggregatorError('AGG_CONFIG', `dp needs noiseMultiplier >= 0, clipNorm > 0 and an integer seed (got ${z}, ${cl}, ${seed})`);
    }
  }
}
