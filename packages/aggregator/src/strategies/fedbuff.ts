import type { ParamSet } from '@fednode/core';
import { AggregatorError } from '../errors.js';
import { checkServerOptimizer, type ServerOptimizerConfig } from '../server-optimizer.js';
import { checkStaleness, exampleWeight, stalenessWeight, type ExampleWeight, type StalenessFn } from '../staleness.js';
import { decodeState, encodeState } from '../state.js';
import { ServerModel, type ModelJson } from './server-model.js';
import type { Acceptance, AggregateResult, ClientUpdate, Strategy } from '../types.js';
import { ACCEPTED, checkGuards, clipped, guard, refuse, type UpdateGuards } from './common.js';

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
}

/**
 * FedBuff (spec 2): asynchronous. Updates from any recent version are weighted by
 * s(staleness)·e(examples) and summed into a buffer; every K of them make a new version
 * through the server optimiser. `flush` aggregates a partial buffer (timeouts, end of run).
 */
export class FedBuff implements Strategy {
  readonly name = 'fedbuff';
  private readonly config: FedBuffConfig;
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

  get buffered(): number {
    return this.model.acc.count;
  }

  /** The weight an update of this staleness and example count gets. */
  weightOf(staleness: number, examples: number): number {
    const fn = this.config.staleness ?? { kind: 'polynomial', a: 0.5 };
    let s = stalenessWeight(fn, staleness);
    if (this.config.stalenessNormalizeAt !== undefined) s /= stalenessWeight(fn, this.config.stalenessNormalizeAt);
    return s * exampleWeight(this.config.exampleWeight ?? 'one', examples);
  }

  offer(u: ClientUpdate): Acceptance {
    const g = guard(this.config, u);
    if (g !== null) return g;
    const tau = this._version - u.baseVersion;
    if (tau < 0) return refuse('FUTURE_VERSION', `computed from version ${u.baseVersion}, newer than ${this._version}`);
    if (this.config.maxStaleness !== undefined && tau > this.config.maxStaleness) {
      return refuse('TOO_STALE', `staleness ${tau} is over the bound ${this.config.maxStaleness}`);
    }
    if (this.senders.has(u.sender)) return refuse('DUPLICATE_SENDER', `${u.sender} already has an update in the buffer for version ${this._version + 1}`);
    if (this.model.acc.count >= this.config.k) return refuse('ROUND_CLOSED', `the buffer holds its ${this.config.k} updates; aggregate first`);
    const needExamples = (this.config.exampleWeight ?? 'one') !== 'one';
    if (needExamples && !(u.examples > 0)) return refuse('NO_EXAMPLES', `example count ${u.examples}; weighting uses examples`);
    const { update, wasClipped } = clipped(u, this.config.clipNorm);
    if (wasClipped) this.clippedCount++;
    const w = this.config.fedAsync ? 1 : this.weightOf(tau, u.examples);
    const lrScale = this.config.fedAsync ? this.config.fedAsync.alpha * this.weightOf(tau, u.examples) : 1;
    this.model.acc.add(update, w * lrScale, this.config.mean === 'weights' ? w : 1);
    this.senders.add(u.sender);
    this.stalenessSum += tau;
    return ACCEPTED;
  }

  ready(): boolean {
    return this.model.acc.count >= this.config.k;
  }

  aggregate(): AggregateResult {
    if (!this.ready()) throw new AggregatorError('AGG_NOT_READY', `buffer has ${this.model.acc.count} of ${this.config.k} updates`);
    return this.step();
  }

  /** Aggregates whatever the buffer holds (a timeout or the end of the run); null when it is empty. */
  flush(): AggregateResult | null {
    return this.model.acc.count === 0 ? null : this.step();
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

  static restore(bytes: Uint8Array): FedBuff {
    const s = decodeState(bytes, 'fedbuff');
    const j = s.json as { config: FedBuffConfig; model: ModelJson; version: number; senders: string[]; stalenessSum: number; clipped: number };
    const model = ServerModel.restore(s, j.model, j.config.server);
    const f = new FedBuff(model.params, j.config, { version: j.version });
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

function checkFedBuff(c: FedBuffConfig): void {
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
  if (c.fedAsync) {
    if (c.k !== 1) throw new AggregatorError('AGG_CONFIG', 'fedAsync applies each update on arrival: k must be 1');
    if (!(c.fedAsync.alpha > 0 && c.fedAsync.alpha <= 1)) throw new AggregatorError('AGG_CONFIG', `fedAsync alpha ${c.fedAsync.alpha} outside (0, 1]`);
  }
}
