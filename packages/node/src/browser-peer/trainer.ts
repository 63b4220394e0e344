import { Rng } from '@fednode/kernels';
import {
  ErrorFeedback,
  ParamSet,
  createWebExecutor,
  datasetShare,
  encodeUpdate,
  engine,
  fullSlice,
  mlpSubnetwork,
  MNIST_MLP_SUPERNET,
  trainLocal,
  type Dataset,
  type Update,
} from '@fednode/core/browser';
import type { PrivateKey } from '@libp2p/interface';
import { Admission } from '../net/admission.js';
import { NetError } from '../net/errors.js';
import { createHost, type FedHost } from '../net/host.js';
import { pullModel } from '../net/model-protocol.js';
import { networkKeyOf } from '../net/private-network.js';
import { retryUntil } from '../net/retry.js';
import { pushUpdate } from '../net/update-protocol.js';
import { fetchStatus, type AggregatorStatus } from '../runtime/status-protocol.js';
import type { WebJoin } from './join.js';

/**
 * A federated trainer in a browser page: the daemon trainer's round (pull the round's model,
 * train the page's share with the same local-training loop, encode the delta with error
 * feedback, push it) over libp2p WebSockets, admitted with the run's key. What must survive a
 * dropped connection or a reloaded tab (the next sequence number, the last round, the
 * error-feedback residual) goes to the `memory` the page gives it (localStorage, IndexedDB),
 * saved before an update leaves and after it is acknowledged, as the daemon does on disk.
 */

/** Refusals that mean the aggregator already holds our update for the round. */
const DELIVERED = new Set(['DUPLICATE_SENDER', 'REPLAYED_SEQUENCE']);
/** The seed stream of local training (the daemon trainer's, so a share trains alike in both). */
const TRAINING_STREAM = 0x7472_6169;
const NO_DEADLINE_RETRY_MS = 60_000;

export interface SavedTrainer {
  readonly runId: string;
  readonly nextSequence: number;
  readonly lastRound: number;
  /** ErrorFeedback.save() bytes; null before the first delivered update. */
  readonly residual: Uint8Array | null;
}

/** Where the page keeps a trainer's state between rounds, reconnections and reloads. */
export interface TrainerMemory {
  load(): Promise<SavedTrainer | null>;
  save(state: SavedTrainer): Promise<void>;
}

export type BrowserTrainerEvent =
  | { readonly kind: 'status'; readonly status: AggregatorStatus }
  | { readonly kind: 'unreachable'; readonly reason: string }
  | { readonly kind: 'pulled'; readonly round: number; readonly version: number }
  | { readonly kind: 'step'; readonly round: number; readonly done: number; readonly total: number; readonly loss: number }
  | { readonly kind: 'pushed'; readonly round: number; readonly sequence: number; readonly outcome: 'accepted' | 'delivered'; readonly version: number; readonly bytes: number; readonly loss: number }
  | { readonly kind: 'refused'; readonly round: number; readonly code: string; readonly reason: string }
  | { readonly kind: 'missed'; readonly round: number; readonly reason: string }
  | { readonly kind: 'done'; readonly version: number };

export interface BrowserTrainerOptions {
  readonly join: WebJoin;
  /** The run's pre-shared key, when `join.keyRequired`. */
  readonly psk?: string;
  /** The page's training rows (normalised as the run's dataset is), MNIST's 784 features. */
  readonly rows: Dataset;
  /** Where onnxruntime-web's files are served (ending in '/'). */
  readonly wasmPaths: string;
  readonly memory: TrainerMemory;
  /** The seed stream of this page's local training (daemon trainers use their shard index). */
  readonly shard?: number;
  /** The peer identity; default a fresh one (the aggregator counts each identity once a round). */
  readonly privateKey?: PrivateKey;
  readonly pollMs?: number;
  readonly onEvent?: (e: BrowserTrainerEvent) => void;
}

export class BrowserTrainer {
  readonly host: FedHost;
  private readonly o: BrowserTrainerOptions;
  private readonly admission: Admission | undefined;
  private readonly trainer: engine.Trainer;
  private state: SavedTrainer;
  private ef: ErrorFeedback | null;
  private stopped = false;
  private busy = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private finished: (() => void) | null = null;
  /** Bytes of update payload the aggregator acknowledged. */
  bytesSent = 0;

  private constructor(o: BrowserTrainerOptions, host: FedHost, admission: Admission | undefined, trainer: engine.Trainer, state: SavedTrainer) {
    this.o = o;
    this.host = host;
    this.admission = admission;
    this.trainer = trainer;
    this.state = state;
    const useEf = o.join.codec.errorFeedback ?? o.join.codec.codec !== 'fp32';
    this.ef = !useEf ? null : state.residual === null ? new ErrorFeedback() : ErrorFeedback.restore(state.residual);
  }

  static async create(o: BrowserTrainerOptions): Promise<BrowserTrainer> {
    const j = o.join;
    if (j.keyRequired && (o.psk === undefined || o.psk === '')) throw new NetError('NET_CONFIG', `run ${j.runId} needs its pre-shared key`);
    if (o.rows.features !== MNIST_MLP_SUPERNET.inputs) throw new NetError('NET_CONFIG', `the page's rows have ${o.rows.features} features; the MNIST MLP takes ${MNIST_MLP_SUPERNET.inputs}`);
    const saved = await o.memory.load();
    const state: SavedTrainer = saved !== null && saved.runId === j.runId ? saved : { runId: j.runId, nextSequence: 0, lastRound: -1, residual: null };
    const executor = await createWebExecutor({ wasmPaths: o.wasmPaths });
    const net = mlpSubnetwork({ ...MNIST_MLP_SUPERNET, hidden: j.model.hidden, depth: j.model.depth }, { width: 1 });
    const trainer = await engine.Trainer.create({
      model: () => net.build(),
      optimizer: j.local.optimizer,
      seed: j.seed,
      lr: j.local.lr,
      executor,
      ...(j.local.clipGradNorm === undefined ? {} : { clipGradNorm: j.local.clipGradNorm }),
    });
    const key = o.psk !== undefined && o.psk !== '' ? o.psk : undefined;
    // A browser dials out only: it listens on nothing.
    const host = await createHost({ listen: [], ...(o.privateKey === undefined ? {} : { privateKey: o.privateKey }), ...(key === undefined ? {} : { networkKey: networkKeyOf(key, j.runId) }) });
    const admission = key === undefined ? undefined : new Admission(host, { psk: key }, { timeoutMs: j.timeoutMs });
    await admission?.start();
    return new BrowserTrainer(o, host, admission, trainer, state);
  }

  get peerId(): string {
    return this.host.peerId.toString();
  }

  /** The state as last saved (what a reload resumes from). */
  get saved(): SavedTrainer {
    return this.state;
  }

  /** Polls the aggregator and contributes to each open round until the run ends or stop(). */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.finished = resolve));
    this.timer = setInterval(() => void this.poll(), this.o.pollMs ?? 500);
    void this.poll();
    return done;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    for (let i = 0; i < 200 && this.busy; i++) await new Promise((r) => setTimeout(r, 50));
    await this.trainer.close();
    await this.host.stop();
    this.finished?.();
  }

  private emit(e: BrowserTrainerEvent): void {
    this.o.onEvent?.(e);
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.busy) return;
    this.busy = true;
    try {
      let s: AggregatorStatus | undefined;
      try {
        s = (await fetchStatus(this.host, this.o.join.aggregator, this.o.join.timeoutMs, this.admission, this.o.join.runId)).aggregator;
      } catch (e) {
        this.emit({ kind: 'unreachable', reason: (e as Error).message.slice(0, 300) });
        return;
      }
      if (s === undefined) {
        this.emit({ kind: 'unreachable', reason: `${this.o.join.aggregator} runs no aggregator` });
        return;
      }
      this.emit({ kind: 'status', status: s });
      if (s.done || s.version >= this.o.join.rounds) {
        this.emit({ kind: 'done', version: s.version });
        if (this.timer !== null) clearInterval(this.timer);
        this.finished?.();
        return;
      }
      const full = s.cohort !== null && s.received >= s.cohort;
      if (!full && s.round > this.state.lastRound) await this.contribute(s.round, s.version, s.deadlineUnixMs);
    } finally {
      this.busy = false;
    }
  }

  private async save(next: Partial<SavedTrainer>): Promise<void> {
    this.state = { ...this.state, ...next };
    await this.o.memory.save(this.state);
  }

  /** One round: pull, train, encode, push (the daemon trainer's `contribute`). */
  private async contribute(round: number, version: number, deadlineUnixMs: number | null): Promise<void> {
    const j = this.o.join;
    const deadline = deadlineUnixMs !== null && deadlineUnixMs > 0 ? deadlineUnixMs : Date.now() + NO_DEADLINE_RETRY_MS;
    const stopped = (): boolean => this.stopped;
    // A lost link shows while it lasts; the pull or push is retried until the round's deadline.
    const onRetry = (_attempt: number, e: Error): void => this.emit({ kind: 'unreachable', reason: e.message.slice(0, 300) });
    let model;
    try {
      model = await retryUntil(() => pullModel(this.host, j.aggregator, { runId: j.runId, version, slice: null, codec: 'fp32' }, { timeoutMs: j.timeoutMs, ...(this.admission === undefined ? {} : { admission: this.admission }) }), { deadline, stopped, onRetry });
    } catch (e) {
      const code = e instanceof NetError ? (e.remoteCode ?? e.code) : 'ERROR';
      this.emit({ kind: 'refused', round, code, reason: (e as Error).message });
      await this.save({ lastRound: round });
      return;
    }
    if (model === null) {
      this.emit({ kind: 'missed', round, reason: 'could not pull the model before the deadline' });
      return;
    }
    this.emit({ kind: 'pulled', round, version: model.version });
    await this.trainer.setParams(model.params);
    const share = datasetShare(() => this.o.rows, this.o.rows.count, `${this.o.rows.count} rows in the page`);
    const seed = Rng.derive(j.seed, TRAINING_STREAM, round, this.o.shard ?? 0).nextU32();
    const report = await trainLocal(this.trainer, share, { budget: j.local.budget, batch: j.local.batch, lr: j.local.lr, schedule: j.local.schedule, seed, onStep: (done, total, loss) => this.emit({ kind: 'step', round, done, total, loss }) });
    const delta: ParamSet = await this.trainer.params();
    const d = delta.data;
    const g = model.params.data;
    for (let i = 0; i < d.length; i++) d[i] -= g[i];

    // Encode on a copy of the residual: it becomes ours only once the update is delivered.
    const ef = this.ef === null ? undefined : ErrorFeedback.restore(this.ef.save());
    const sequence = this.state.nextSequence;
    const { errorFeedback: _ef, ...codec } = j.codec;
    const update: Update = encodeUpdate(
      { runId: j.runId, sender: this.peerId, baseVersion: model.version, round, sequence, examples: share.examples, metrics: { loss: report.loss, steps: report.steps, train_s: report.seconds } },
      fullSlice(delta.specs),
      delta,
      codec,
      ef,
    );
    // Reserve the sequence number before the update leaves: a reload never sends it again.
    await this.save({ nextSequence: sequence + 1 });
    const bytes = update.tensors.reduce((n, t) => n + t.payload.byteLength, 0);
    let outcome: 'accepted' | 'delivered' | null = null;
    let acked = model.version;
    try {
      const ack = await retryUntil(() => pushUpdate(this.host, j.aggregator, update, { timeoutMs: j.timeoutMs, ...(this.admission === undefined ? {} : { admission: this.admission }) }), { deadline, stopped, onRetry });
      if (ack !== null) {
        outcome = 'accepted';
        acked = ack.version;
      }
    } catch (e) {
      const code = e instanceof NetError ? (e.remoteCode ?? e.code) : 'ERROR';
      if (DELIVERED.has(code)) outcome = 'delivered';
      else {
        // Refused (not admitted, the round moved on): this round is lost, the residual is not.
        this.emit({ kind: 'refused', round, code, reason: (e as Error).message });
        await this.save({ lastRound: round });
        return;
      }
    }
    if (outcome === null) {
      // Not delivered before the deadline: the round is lost, the residual is not (it was never replaced).
      this.emit({ kind: 'missed', round, reason: 'could not deliver the update before the deadline' });
      await this.save({ lastRound: round });
      return;
    }
    if (ef !== undefined) this.ef = ef;
    this.bytesSent += bytes;
    await this.save({ lastRound: round, residual: this.ef === null ? null : this.ef.save() });
    this.emit({ kind: 'pushed', round, sequence, outcome, version: acked, bytes, loss: report.loss });
  }
}
