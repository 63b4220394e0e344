import { ParamSet, sameSpecs } from '@fednode/core';
import { AggregatorError, type Refusal } from '../errors.js';
import { isFullModel } from '../accumulator.js';
import { decodeState, encodeState, requireArray } from '../state.js';
import type { Acceptance, AggregateResult, ClientUpdate, Strategy, UpdateHeader } from '../types.js';
import { ACCEPTED, checkGuards, guard, guardHeader, refusal, refuse, type UpdateGuards } from './common.js';
import { checkAlignable, isAssembly, mergeModels, type OneShotMethod } from './oneshot-merge.js';
import { mergeAverage } from '../merge/index.js';
import type { ModelAssembler } from './assembler.js';
import type { PermutationSpec } from '../merge/permutation-spec.js';

/** What the runtime lends a one-shot merge: task knowledge the strategy does not have. */
export interface OneShotRuntime {
  /** Builds the methods that train (moe). */
  readonly assembler?: ModelAssembler;
  /** The model's permutation symmetries, for differentInit on other models than MLPs. */
  readonly alignment?: PermutationSpec;
}

export type { OneShotMethod } from './oneshot-merge.js';

export interface OneShotConfig extends UpdateGuards {
  /** How the received models are merged, with that method's options. */
  readonly method: OneShotMethod;
  /** Seconds after `open` at which the models received so far are merged. */
  readonly deadlineS: number;
  /** Fewest models a merge takes (default 1): fewer at the deadline fails the run. */
  readonly minParticipants?: number;
  /** Models that make the merge ready before the deadline; absent: only the deadline does. */
  readonly cohort?: number;
  /** Input weights of average, task arithmetic and DARE: example counts (default) or equal. */
  readonly weighting?: 'examples' | 'uniform';
  /** Each trainer starts from its own seeded initialisation: the aggregator weight-matches before merging. */
  readonly differentInit?: boolean;
}

interface Received {
  readonly sender: string;
  readonly examples: number;
  /** The trained model less the base (version 0): the trainer's whole contribution. */
  readonly delta: Float32Array;
}

/** What `saveState` writes besides the arrays (`model.<i>`, `base.<i>`). */
interface OneShotJson {
  readonly config: OneShotConfig;
  readonly specs: ParamSet['specs'];
  readonly version: number;
  /** The merged model's layout when it is not the base's (an assembled mixture). */
  readonly modelSpecs?: ParamSet['specs'];
  readonly deadline: number | null;
  readonly received: readonly { readonly sender: string; readonly examples: number }[];
}

/**
 * One-shot merging as a strategy: each trainer sends one model, trained once from version 0;
 * at the deadline (or once `cohort` models are in) they are merged once, in the order of
 * their senders' peer ids, into version 1. The run has exactly that one version. Models are
 * held as deltas from the base, which a trainer's update already is.
 */
export class OneShot implements Strategy {
  readonly name = 'oneshot';
  readonly pacing = 'rounds';
  private readonly config: OneShotConfig;
  private readonly base: ParamSet;
  private model: ParamSet;
  private models = new Map<string, Received>();
  private _version = 0;
  private deadline: number | null = null;
  private readonly assembler: ModelAssembler | null;
  private readonly alignment: PermutationSpec | undefined;
  /** Set once `prepare` starts: the models it assembles are final, later ones are refused. */
  private sealed = false;
  /** What `prepare` built, for `aggregate` to publish. */
  private assembled: ParamSet | null = null;
  /** Only an assembled method has work before `aggregate`; the others close at once. */
  readonly prepare?: (nowMs?: number, signal?: AbortSignal) => Promise<void>;

  constructor(global: ParamSet, config: OneShotConfig, runtime: OneShotRuntime = {}) {
    checkOneShot(config);
    const assembler = runtime.assembler;
    if (isAssembly(config.method) && (assembler === undefined || !assembler.methods.includes(config.method.kind))) {
      throw new AggregatorError('AGG_CONFIG', `method ${config.method.kind} trains part of the merged model, which this runtime cannot do: run it on daemons (fednode start), whose aggregator has the engine and the data`);
    }
    this.config = config;
    this.base = global.clone();
    this.model = this.base;
    this.assembler = assembler ?? null;
    this.alignment = runtime.alignment;
    // A model that cannot be weight-matched is refused now, not after every trainer has trained.
    if (config.differentInit === true && this.alignment === undefined) checkAlignable(global);
    if (isAssembly(config.method)) this.prepare = (nowMs, signal) => this.assemble(nowMs, signal);
  }

  get version(): number {
    return this._version;
  }

  /** One epoch: collecting (0), then merged (1). */
  get epoch(): number {
    return this._version;
  }

  get global(): ParamSet {
    return this.model;
  }

  get received(): number {
    return this.models.size;
  }

  get expected(): number | null {
    return this.config.cohort ?? null;
  }

  get deadlineMs(): number | null {
    return this.deadline;
  }

  get minParticipants(): number {
    return this.config.minParticipants ?? 1;
  }

  /** The senders received so far, in merge order. */
  get senders(): string[] {
    return [...this.models.keys()].sort();
  }

  open(nowMs: number): void {
    this.deadline = this._version === 0 ? nowMs + Math.round(this.config.deadlineS * 1000) : null;
  }

  precheck(h: UpdateHeader): Refusal | null {
    const g = guardHeader(this.config, h);
    if (g !== null) return g;
    if (this._version > 0) return refusal('ROUND_CLOSED', 'the one-shot merge is made; it takes no more models');
    if (this.sealed) return refusal('ROUND_CLOSED', 'the one-shot merge is being assembled; it takes no more models');
    if (h.round !== 0) return refusal('WRONG_ROUND', `round ${h.round}: a one-shot run has round 0 only`);
    if (h.baseVersion !== 0) return refusal('WRONG_BASE_VERSION', `computed from version ${h.baseVersion}; one-shot models are trained from version 0`);
    if (this.models.has(h.sender)) return refusal('DUPLICATE_SENDER', `${h.sender} already sent its model`);
    if (this.config.cohort !== undefined && this.models.size >= this.config.cohort) return refusal('ROUND_CLOSED', `the merge has the ${this.config.cohort} models it waits for`);
    if (this.config.weighting !== 'uniform' && !(h.examples > 0)) return refusal('NO_EXAMPLES', `example count ${h.examples}; the merge weighs models by examples`);
    return null;
  }

  check(u: ClientUpdate): Refusal | null {
    const r = this.precheck(u) ?? guard(this.config, u);
    if (r !== null) return r;
    if (!isFullModel(u, this.base)) return refusal('NEEDS_FULL_MODEL', 'a one-shot merge takes whole models; this update holds a slice');
    return null;
  }

  offer(u: ClientUpdate): Acceptance {
    const r = this.check(u);
    if (r !== null) return refuse(r);
    this.models.set(u.sender, { sender: u.sender, examples: u.examples, delta: u.delta.data.slice() });
    return ACCEPTED;
  }

  staleness(): undefined {
    return undefined;
  }

  ready(nowMs?: number): boolean {
    if (this._version > 0) return false;
    const n = this.models.size;
    if (n < this.minParticipants) return false;
    if (this.config.cohort !== undefined && n >= this.config.cohort) return true;
    return nowMs !== undefined && this.deadline !== null && nowMs >= this.deadline;
  }

  /** The received models rebuilt (base + delta) in merge order, with their weights. */
  private inputs(): { order: Received[]; models: ParamSet[]; weights: number[] } {
    const order = this.senders.map((s) => this.models.get(s)!);
    const models = order.map((m) => {
      const p = this.base.clone();
      const d = p.data;
      for (let i = 0; i < d.length; i++) d[i] += m.delta[i];
      return p;
    });
    return { order, models, weights: order.map((m) => (this.config.weighting === 'uniform' ? 1 : m.examples)) };
  }

  /**
   * An assembled merge trains (a mixture's routers), which takes long: the runtime awaits this
   * once `ready` holds, then calls `aggregate`. The models it uses are sealed, so none is
   * acknowledged and then left out. A restart before the version is made assembles again.
   */
  private async assemble(nowMs?: number, signal?: AbortSignal): Promise<void> {
    if (!isAssembly(this.config.method) || this.assembled !== null) return;
    if (!this.ready(nowMs)) throw new AggregatorError('AGG_NOT_READY', `the one-shot merge has ${this.models.size} model(s) and is not ready`);
    this.sealed = true;
    const { models, weights } = this.inputs();
    const out = await this.assembler!.assemble(this.config.method, models, weights, signal);
    if (!out.data.every(Number.isFinite)) throw new AggregatorError('AGG_STATE', `the ${this.config.method.kind} assembly holds NaN or Infinity`);
    this.assembled = out;
  }

  aggregate(nowMs?: number): AggregateResult {
    if (!this.ready(nowMs)) throw new AggregatorError('AGG_NOT_READY', `the one-shot merge has ${this.models.size} model(s) and is not ready`);
    if (isAssembly(this.config.method) && this.assembled === null) throw new AggregatorError('AGG_NOT_READY', `method ${this.config.method.kind} is assembled by prepare(), which has not finished`);
    const { order, models, weights } = this.inputs();
    this.model = this.assembled ?? mergeModels(this.config.method, this.base, models, weights, this.config.differentInit === true, this.alignment);
    this.assembled = null;
    this._version = 1;
    this.deadline = null;
    const participants = order.map((m) => m.sender);
    const references = [
      ...order.map((m, i) => ({ label: m.sender, params: models[i] })),
      ...(this.config.method.kind === 'average' && this.config.differentInit !== true ? [] : [{ label: 'average', params: mergeAverage(models, weights) }]),
    ];
    return {
      version: 1,
      params: this.model,
      participants,
      metrics: { participants: participants.length },
      report: {
        event: 'oneshot.merged',
        fields: { method: this.config.method.kind, participants, examples: order.map((m) => m.examples), weighting: this.config.weighting ?? 'examples' },
      },
      references,
    };
  }

  /** The deadline passed below the minimum: a one-shot run has no second chance, so this fails it. */
  abandon(): boolean {
    throw new AggregatorError(
      'AGG_TOO_FEW',
      `one-shot merge refused at the deadline: ${this.models.size} model(s) received${this.models.size === 0 ? '' : ` (from ${this.senders.join(', ')})`}, minParticipants is ${this.minParticipants}`,
    );
  }

  saveState(): Uint8Array {
    const arrays: [string, Float32Array][] = [['base', this.base.data], ['model', this.model.data]];
    const senders = this.senders;
    senders.forEach((s, i) => arrays.push([`received.${i}`, this.models.get(s)!.delta]));
    const json: OneShotJson = {
      config: this.config,
      specs: this.base.specs,
      version: this._version,
      ...(sameSpecs(this.model.specs, this.base.specs) ? {} : { modelSpecs: this.model.specs }),
      deadline: this.deadline,
      received: senders.map((s) => ({ sender: s, examples: this.models.get(s)!.examples })),
    };
    return encodeState('oneshot', json, arrays);
  }

  /** `deadlineS`: the runtime's deadline now (the saved deadline is replaced when the runtime opens again). */
  static restore(bytes: Uint8Array, section?: Partial<OneShotConfig>, runtime: OneShotRuntime = {}): OneShot {
    const s = decodeState(bytes, 'oneshot');
    const j = s.json as OneShotJson;
    const config: OneShotConfig = section === undefined ? j.config : { ...j.config, ...section };
    const size = (specs: ParamSet['specs']): number => specs.reduce((k, sp) => k + sp.shape.reduce((a, d) => a * d, 1), 0);
    const n = size(j.specs);
    // A made merge needs no assembler to be served again; one still to make does.
    const o = new OneShot(ParamSet.wrap(j.specs, requireArray(s, 'base', n).slice()), config, j.version > 0 ? { ...runtime, assembler: runtime.assembler ?? VERSION_MADE } : runtime);
    o._version = j.version;
    o.deadline = j.deadline;
    if (j.version > 0) {
      const specs = j.modelSpecs ?? j.specs;
      o.model = ParamSet.wrap(specs, requireArray(s, 'model', size(specs)).slice());
    }
    j.received.forEach((r, i) => o.models.set(r.sender, { sender: r.sender, examples: r.examples, delta: requireArray(s, `received.${i}`, n).slice() }));
    return o;
  }
}

/** Stands in for the assembler of a one-shot run whose merge is already made: it never assembles again. */
const VERSION_MADE: ModelAssembler = {
  methods: ['moe'],
  assemble: () => Promise.reject(new AggregatorError('AGG_STATE', 'the one-shot merge is already made')),
};

function checkOneShot(c: OneShotConfig): void {
  checkGuards(c);
  if (!(Number.isFinite(c.deadlineS) && c.deadlineS > 0)) throw new AggregatorError('AGG_CONFIG', `deadlineS is ${c.deadlineS}, expected a number > 0`);
  const min = c.minParticipants ?? 1;
  if (!(Number.isInteger(min) && min >= 1)) throw new AggregatorError('AGG_CONFIG', `minParticipants is ${min}, expected an integer >= 1`);
  if (c.cohort !== undefined && !(Number.isInteger(c.cohort) && c.cohort >= min)) throw new AggregatorError('AGG_CONFIG', `cohort is ${c.cohort}, expected an integer >= minParticipants ${min}`);
}
