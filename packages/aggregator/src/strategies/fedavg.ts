import type { ParamSet } from '@fednode/core';
import { AggregatorError, type Refusal } from '../errors.js';
import { isFullModel } from '../accumulator.js';
import { checkServerOptimizer, type ServerOptimizerConfig } from '../server-optimizer.js';
import { checkRobust, robustCombine, type RobustConfig } from '../robust.js';
import { decodeState, encodeState, requireArray } from '../state.js';
import { ServerModel, type ModelJson } from './server-model.js';
import { HeldUpdates, type HeldJson } from './held.js';
import type { Acceptance, AggregateResult, ClientUpdate, EpochOpening, Strategy, UpdateHeader } from '../types.js';
import { dpNoise } from './dp-noise.js';
import { ACCEPTED, checkGuards, clipped, guard, guardHeader, refusal, refuse, type UpdateGuards } from './common.js';

/** DP-FedAvg with fixed clipping (spec 9): clip each delta to C, average, add N(0, σ²), σ = z·C/m. */
export interface DpConfig {
  readonly noiseMultiplier: number;
  readonly clipNorm: number;
  /**
   * Tests only: draw the noise from this seed instead of the cryptographic source. Anyone who
   * knows the seed can subtract the noise, so a run with it has no privacy (the runtime warns).
   */
  readonly testSeed?: number;
}

export interface FedAvgConfig extends UpdateGuards {
  /**
   * Trainers expected per round; with `backupWorkers` b the round closes when cohort − b have
   * reported. A runtime that picks each round's trainers itself gives the cohort to `open`.
   */
  readonly cohort?: number;
  readonly backupWorkers?: number;
  /** Fewest updates a round needs, also at its deadline (default 1). */
  readonly minParticipants?: number;
  /** Seconds a round stays open after `open`; then it closes with what it has, or is abandoned below the minimum. */
  readonly deadlineS?: number;
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
 * version `version`; `aggregate` makes version + 1 and opens round r + 1. A round's accepted
 * updates are held and folded in canonical order when it closes, so its result depends on
 * which updates it took, never on the order they came in.
 */
export class FedAvg implements Strategy {
  readonly name: string;
  readonly pacing = 'rounds';
  private readonly config: FedAvgConfig;
  private model: ServerModel;
  private held = new HeldUpdates();
  /** Whole-model deltas for DP or a robust rule, filled at aggregation (or restored from an older state). */
  private stash: Stashed[] = [];
  private senders = new Set<string>();
  private clippedCount = 0;
  private _version: number;
  private _round: number;
  private deadline: number | null = null;
  private cohortThisRound: number | undefined;

  /** `kind`: the registry kind it is saved as (strategies that are FedAvg on the server, such as FedProx). */
  constructor(global: ParamSet, config: FedAvgConfig = {}, start: { version?: number; round?: number } = {}, kind = 'fedavg') {
    checkFedAvg(config);
    this.name = kind;
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

  get epoch(): number {
    return this._round;
  }

  get global(): ParamSet {
    return this.model.params;
  }

  /** Updates accepted so far this round. */
  get received(): number {
    return this.senders.size;
  }

  get expected(): number | null {
    const c = this.cohortThisRound ?? this.config.cohort;
    return c === undefined ? null : Math.max(1, c - (this.config.backupWorkers ?? 0));
  }

  get deadlineMs(): number | null {
    return this.deadline;
  }

  open(nowMs: number, opening: EpochOpening = {}): void {
    const d = this.config.deadlineS;
    this.deadline = d === undefined ? null : nowMs + Math.round(d * 1000);
    this.cohortThisRound = opening.cohort;
  }

  precheck(h: UpdateHeader): Refusal | null {
    const g = guardHeader(this.config, h);
    if (g !== null) return g;
    if (h.round !== this._round) return refusal('WRONG_ROUND', `round ${h.round}, collecting round ${this._round}`);
    if (h.baseVersion !== this._version) return refusal('WRONG_BASE_VERSION', `computed from version ${h.baseVersion}, round ${this._round} trains version ${this._version}`);
    if (this.senders.has(h.sender)) return refusal('DUPLICATE_SENDER', `${h.sender} already sent an update for round ${this._round}`);
    if (this.isFull()) return refusal('ROUND_CLOSED', `round ${this._round} has all the updates it waits for`);
    if (this.config.weighting !== 'uniform' && !(h.examples > 0)) return refusal('NO_EXAMPLES', `example count ${h.examples}; FedAvg weights by examples`);
    return null;
  }

  check(u: ClientUpdate): Refusal | null {
    const r = this.precheck(u) ?? guard(this.config, u);
    if (r !== null) return r;
    if (this.needsWhole() && !isFullModel(u, this.model.params)) {
      return refusal('NEEDS_FULL_MODEL', `${this.config.robust ? this.config.robust.kind : 'DP-FedAvg'} compares whole-model updates; this one holds a slice`);
    }
    return null;
  }

  offer(u: ClientUpdate): Acceptance {
    const r = this.check(u);
    if (r !== null) return refuse(r);
    const { update, wasClipped } = clipped(u, this.config.dp?.clipNorm ?? this.config.clipNorm);
    if (wasClipped) this.clippedCount++;
    const w = this.config.weighting !== 'uniform' && this.config.dp === undefined ? u.examples : 1;
    this.held.add(update, w);
    this.senders.add(u.sender);
    return ACCEPTED;
  }

  staleness(): undefined {
    return undefined;
  }

  ready(nowMs?: number): boolean {
    const n = this.senders.size;
    if (n < (this.config.minParticipants ?? 1)) return false;
    if (this.isFull()) return true;
    const late = nowMs !== undefined && nowMs >= (this.deadline ?? Infinity);
    // With no cohort to wait for, a round without a deadline closes as soon as it has its minimum.
    return this.expected === null ? this.deadline === null || late : late;
  }

  aggregate(nowMs?: number): AggregateResult {
    if (!this.ready(nowMs)) {
      throw new AggregatorError('AGG_NOT_READY', `round ${this._round} has ${this.senders.size} updates and is not ready`);
    }
    for (const { update, weight } of this.held.inCanonicalOrder()) {
      if (this.needsWhole()) this.stash.push({ sender: update.sender, weight, delta: update.delta.data.slice() });
      else this.model.acc.add(update, weight, weight);
    }
    const metrics: Record<string, number> = { participants: this.senders.size, clipped: this.clippedCount };
    if (this.needsWhole()) {
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
      const { noiseMultiplier: z, clipNorm: c, testSeed } = this.config.dp;
      const m = this.stash.length;
      for (const s of this.stash) for (let i = 0; i < mean.length; i++) mean[i] += s.delta[i] / m;
      const sigma = (z * c) / m;
      const noise = dpNoise(mean.length, sigma, this._round, testSeed);
      for (let i = 0; i < mean.length; i++) mean[i] += noise[i];
      metrics.dp_sigma = sigma;
    } else if (this.config.robust !== undefined) {
      const used = robustCombine(this.config.robust, this.stash.map((s) => s.delta), this.stash.map((s) => s.weight), mean);
      metrics.robust_used = used.length;
    }
  }

  /** Too few updates by the deadline: the round ends without a new model (round + 1, same version). */
  abandon(): true {
    this._round++;
    this.resetRound();
    return true;
  }

  saveState(): Uint8Array {
    const arrays = this.model.arrays();
    this.stash.forEach((s, i) => arrays.push([`stash.${i}`, s.delta]));
    arrays.push(...this.held.arrays());
    const json = {
      config: this.config,
      model: this.model.json(),
      version: this._version,
      round: this._round,
      deadline: this.deadline,
      senders: [...this.senders],
      clipped: this.clippedCount,
      stash: this.stash.map((s) => ({ sender: s.sender, weight: s.weight })),
      // Absent when empty, so a state between rounds is what earlier versions wrote.
      ...(this.held.size > 0 ? { held: this.held.json() } : {}),
      ...(this.cohortThisRound === undefined ? {} : { cohortThisRound: this.cohortThisRound }),
    };
    return encodeState(this.name, json, arrays);
  }

  static restore(bytes: Uint8Array, timing?: Pick<FedAvgConfig, 'deadlineS'>): FedAvg {
    return FedAvg.restoreAs(bytes, 'fedavg', timing, (g, c, st) => new FedAvg(g, c, st));
  }

  /**
   * A saved state of `kind` (FedAvg or a strategy that is FedAvg on the server). `timing`:
   * the runtime's deadline policy now, which replaces the saved one (states saved before the
   * deadline was part of the strategy have none).
   */
  protected static restoreAs<T extends FedAvg>(
    bytes: Uint8Array,
    kind: string,
    timing: Pick<FedAvgConfig, 'deadlineS'> | undefined,
    make: (global: ParamSet, config: FedAvgConfig, start: { version: number; round: number }) => T,
  ): T {
    const s = decodeState(bytes, kind);
    const j = s.json as {
      config: FedAvgConfig;
      model: ModelJson;
      version: number;
      round: number;
      deadline: number | null;
      senders: string[];
      clipped: number;
      stash: { sender: string; weight: number }[];
      held?: HeldJson[];
      cohortThisRound?: number;
    };
    const config: FedAvgConfig = timing === undefined ? j.config : withTiming(j.config, timing.deadlineS);
    const model = ServerModel.restore(s, j.model, config.server);
    const f = make(model.params, config, { version: j.version, round: j.round });
    f.model = model;
    f.senders = new Set(j.senders);
    f.clippedCount = j.clipped;
    f.deadline = j.deadline;
    f.cohortThisRound = j.cohortThisRound;
    f.stash = j.stash.map((st, i) => ({ ...st, delta: requireArray(s, `stash.${i}`, model.params.size).slice() }));
    f.held = HeldUpdates.restore(s, j.held ?? [], model.params.specs);
    return f;
  }

  private needsWhole(): boolean {
    return this.config.robust !== undefined || this.config.dp !== undefined;
  }

  private isFull(): boolean {
    const e = this.expected;
    return e !== null && this.senders.size >= e;
  }

  private resetRound(): void {
    this.model.acc.reset();
    this.held.clear();
    this.stash = [];
    this.senders.clear();
    this.clippedCount = 0;
    this.deadline = null;
    this.cohortThisRound = undefined;
  }
}

function withTiming(c: FedAvgConfig, deadlineS: number | undefined): FedAvgConfig {
  const { deadlineS: _saved, ...rest } = c;
  return deadlineS === undefined ? rest : { ...rest, deadlineS };
}

export function checkFedAvg(c: FedAvgConfig): void {
  checkGuards(c);
  const posInt = (k: 'cohort' | 'minParticipants') => {
    const v = c[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new AggregatorError('AGG_CONFIG', `${k} is ${v}, expected an integer >= 1`);
  };
  posInt('cohort');
  posInt('minParticipants');
  const b = c.backupWorkers ?? 0;
  if (!(Number.isInteger(b) && b >= 0)) throw new AggregatorError('AGG_CONFIG', `backupWorkers is ${b}, expected an integer >= 0`);
  if (c.cohort !== undefined && b >= c.cohort) throw new AggregatorError('AGG_CONFIG', `backupWorkers ${b} leaves no one of a cohort of ${c.cohort}`);
  if (c.deadlineS !== undefined && !(Number.isFinite(c.deadlineS) && c.deadlineS > 0)) throw new AggregatorError('AGG_CONFIG', `deadlineS is ${c.deadlineS}, expected a finite number > 0`);
  if (c.weighting !== undefined && c.weighting !== 'examples' && c.weighting !== 'uniform') throw new AggregatorError('AGG_CONFIG', `weighting "${c.weighting}" is not examples or uniform`);
  if (c.server) checkServerOptimizer(c.server);
  if (c.robust) checkRobust(c.robust);
  if (c.robust && c.dp) throw new AggregatorError('AGG_CONFIG', 'choose robust aggregation or DP-FedAvg, not both');
  if (c.dp) {
    const { noiseMultiplier: z, clipNorm: cl, testSeed } = c.dp;
    if (!(Number.isFinite(z) && z >= 0) || !(Number.isFinite(cl) && cl > 0) || (testSeed !== undefined && !Number.isInteger(testSeed))) {
      throw new AggregatorError('AGG_CONFIG', `dp needs noiseMultiplier >= 0, clipNorm > 0 and, if given, an integer testSeed (got ${z}, ${cl}, ${testSeed})`);
    }
  }
}
