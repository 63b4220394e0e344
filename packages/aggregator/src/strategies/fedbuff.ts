import type { ParamSet } from '@fednode/core';
import { AggregatorError } from '../errors.js';
import { checkServerOptimizer, type ServerOptimizerConfig } from '../server-optimizer.js';
import { checkStaleness, exampleWeight, stalenessWeight, type ExampleWeight, type StalenessFn } from '../staleness.js';
import { decodeState, encodeState } from '../state.js';
import { ServerModel, type ModelJson } from './server-model.js';
import type { Refusal } from '../errors.js';
import type { Acceptance, AggregateResult, ClientUpdate, Strategy, UpdateHeader } from '../types.js';
import { ACCEPTED, checkGuards, clipped, guard, guardHeader, refusal, refuse, type UpdateGuards } from './common.js';

export interface FedBuffConfig extends UpdateGuards {
  /** Buffer size K: a new version every K accepted updates (FLSim default 1). */
  readonly k: number;
  /** s(τ) (default polynomial with a = 0.5, the paper's 1/√(1+τ)). */
  readonly staleness?: StalenessFn;
  /** FLSim normalisation: divide s(τ) by s(at) (e.g. 1). */
  readonly stalenessNormalizeAt?: number;
  /** e(n) (default 'one'). */
  readonly exampleWeight?: ExampleWeight;
  /** Refuse updates more than this many versions old. */
  readonly maxStaleness?: number;
  /**
   * How the buffer becomes Δ̄: 'count' divides the weighted sum by the number of updates
   * covering each element (paper Alg. 1, B/K), 'weights' by the sum of their weights.
   */
  readonly mean?: 'count' | 'weights';
  /** Server step (default sgd with lr 1). */
  readonly server?: ServerOptimizerConfig;
  /**
   * FedAsync (Plato) instead: every update is applied on arrival, x ← x + α·s(τ)·Δ
   * (its mixing (1−α_t)x + α_t·x_client with x_client taken as x + Δ); k must be 1.
   */
  readonly fedAsync?: { readonly alpha: number };
  /** Aggregate a partial buffer when no version was made for this many seconds (an empty one just waits on). */
  readonly flushS?: number;
}

/**
 * FedBuff (spec 2): asynchronous. Updates from any recent version are weighted by
 * s(staleness)·e(examples) and summed into a buffer; every K of them make a new version
 * through the server optimiser; with `flushS`, a partial buffer is aggregated at its deadline.
 */
export class FedBuff implements Strategy {
  readonly name = 'fedbuff';
  readonly pacing = 'continuous';
  private readonly config: FedBuffConfig;
  private deadline: number | null = null;
  private model: ServerModel;
  private senders = new Set<string>();
  private stalenessSum = 0;
  private clippedCount = 0;
  private _version: number;

  constructor(global: ParamSet, config: FedBuffConfig, start: { version?: number } = {}) {
    checkFedBuff(config);
    this.config = config;
    this.model = new ServerModel(global, config.server);
    this._version = start.version ?? 0;
  }

  get version(): number {
    return this._version;
  }

  get global(): ParamSet {
    return this.model.params;
  }

  /** The version being made: an accepted update belongs to it, whatever its base. */
  get epoch(): number {
    return this._version;
  }

  get buffered(): number {
    return this.model.acc.count;
  }

  get received(): number {
    return this.model.acc.count;
  }

  get expected(): number {
    return this.config.k;
  }

  get deadlineMs(): number | null {
    return this.deadline;
  }

  open(nowMs: number): void {
    const f = this.config.flushS;
    this.deadline = f === undefined ? null : nowMs + Math.round(f * 1000);
  }

  staleness(baseVersion: number): number {
    return this._version - baseVersion;
  }

  /** The weight an update of this staleness and example count gets. */
  weightOf(staleness: number, examples: number): number {
    const fn = this.config.staleness ?? { kind: 'polynomial', a: 0.5 };
    let s = stalenessWeight(fn, staleness);
    if (this.config.stalenessNormalizeAt !== undefined) s /= stalenessWeight(fn, this.config.stalenessNormalizeAt);
    return s * exampleWeight(this.config.exampleWeight ?? 'one', examples);
  }

  precheck(h: UpdateHeader): Refusal | null {
    const g = guardHeader(this.config, h);
    if (g !== null) return g;
    const tau = this._version - h.baseVersion;
    if (tau < 0) return refusal('FUTURE_VERSION', `computed from version ${h.baseVersion}, newer than ${this._version}`);
    if (this.config.maxStaleness !== undefined && tau > this.config.maxStaleness) {
      return refusal('TOO_STALE', `staleness ${tau} is over the bound ${this.config.maxStaleness}`);
    }
    if (this.senders.has(h.sender)) return refusal('DUPLICATE_SENDER', `${h.sender} already has an update in the buffer for version ${this._version + 1}`);
    if (this.model.acc.count >= this.config.k) return refusal('ROUND_CLOSED', `the buffer holds its ${this.config.k} updates; aggregate first`);
    const needExamples = (this.config.exampleWeight ?? 'one') !== 'one';
    if (needExamples && !(h.examples > 0)) return refusal('NO_EXAMPLES', `example count ${h.examples}; weighting uses examples`);
    return null;
  }

  check(u: ClientUpdate): Refusal | null {
    return this.precheck(u) ?? guard(this.config, u);
  }

  /** Applied on arrival: a buffer's membership already follows arrival order, which a replayed log reproduces. */
  offer(u: ClientUpdate): Acceptance {
    const r = this.check(u);
    if (r !== null) return refuse(r);
    const tau = this._version - u.baseVersion;
    const { update, wasClipped } = clipped(u, this.config.clipNorm);
    if (wasClipped) this.clippedCount++;
    const w = this.config.fedAsync ? 1 : this.weightOf(tau, u.examples);
    const lrScale = this.config.fedAsync ? this.config.fedAsync.alpha * this.weightOf(tau, u.examples) : 1;
    this.model.acc.add(update, w * lrScale, this.config.mean === 'weights' ? w : 1);
    this.senders.add(u.sender);
    this.stalenessSum += tau;
    return ACCEPTED;
  }

  /** A full buffer, or past the flush deadline with something in it. */
  ready(nowMs?: number): boolean {
    const n = this.model.acc.count;
    return n >= this.config.k || (n > 0 && nowMs !== undefined && nowMs >= (this.deadline ?? Infinity));
  }

  aggregate(nowMs?: number): AggregateResult {
    if (!this.ready(nowMs)) throw new AggregatorError('AGG_NOT_READY', `buffer has ${this.model.acc.count} of ${this.config.k} updates`);
    return this.step();
  }

  /** The flush deadline passed with an empty buffer: nothing to make, so wait another flushS. */
  abandon(nowMs: number): false {
    this.open(nowMs);
    return false;
  }

  saveState(): Uint8Array {
    const json = {
      config: this.config,
      model: this.model.json(),
      version: this._version,
      senders: [...this.senders],
      stalenessSum: this.stalenessSum,
      clipped: this.clippedCount,
    };
    return encodeState(this.name, json, this.model.arrays());
  }

  /** `timing`: the runtime's flush policy now, which replaces the saved one (see FedAvg.restore). */
  static restore(bytes: Uint8Array, timing?: Pick<FedBuffConfig, 'flushS'>): FedBuff {
    const s = decodeState(bytes, 'fedbuff');
    const j = s.json as { config: FedBuffConfig; model: ModelJson; version: number; senders: string[]; stalenessSum: number; clipped: number };
    const { flushS: _saved, ...rest } = j.config;
    const config: FedBuffConfig = timing === undefined ? j.config : timing.flushS === undefined ? rest : { ...rest, flushS: timing.flushS };
    const model = ServerModel.restore(s, j.model, config.server);
    const f = new FedBuff(model.params, config, { version: j.version });
    f.model = model;
    f.senders = new Set(j.senders);
    f.stalenessSum = j.stalenessSum;
    f.clippedCount = j.clipped;
    return f;
  }

  private step(): AggregateResult {
    const metrics = {
      participants: this.model.acc.count,
      mean_staleness: this.stalenessSum / this.model.acc.count,
      clipped: this.clippedCount,
      covered_fraction: this.model.applyAccumulated(),
    };
    const participants = [...this.senders];
    this._version++;
    this.model.acc.reset();
    this.senders.clear();
    this.stalenessSum = 0;
    this.clippedCount = 0;
    return { version: this._version, params: this.model.params, participants, metrics };
  }
}

export function checkFedBuff(c: FedBuffConfig): void {
  checkGuards(c);
  if (!(Number.isInteger(c.k) && c.k >= 1)) throw new AggregatorError('AGG_CONFIG', `k is ${c.k}, expected an integer >= 1`);
  if (c.staleness) checkStaleness(c.staleness);
  if (c.exampleWeight !== undefined && !['one', 'n', 'sqrt', 'log'].includes(c.exampleWeight)) {
    throw new AggregatorError('AGG_CONFIG', `exampleWeight "${c.exampleWeight}" is not one, n, sqrt or log`);
  }
  if (c.maxStaleness !== undefined && !(Number.isInteger(c.maxStaleness) && c.maxStaleness >= 0)) {
    throw new AggregatorError('AGG_CONFIG', `maxStaleness is ${c.maxStaleness}, expected an integer >= 0`);
  }
  if (c.mean !== undefined && c.mean !== 'count' && c.mean !== 'weights') throw new AggregatorError('AGG_CONFIG', `mean "${c.mean}" is not count or weights`);
  if (c.server) checkServerOptimizer(c.server);
  if (c.flushS !== undefined && !(Number.isFinite(c.flushS) && c.flushS > 0)) throw new AggregatorError('AGG_CONFIG', `flushS is ${c.flushS}, expected a finite number > 0`);
  if (c.fedAsync) {
    if (c.k !== 1) throw new AggregatorError('AGG_CONFIG', 'fedAsync applies each update on arrival: k must be 1');
    if (!(c.fedAsync.alpha > 0 && c.fedAsync.alpha <= 1)) throw new AggregatorError('AGG_CONFIG', `fedAsync alpha ${c.fedAsync.alpha} outside (0, 1]`);
  }
}
