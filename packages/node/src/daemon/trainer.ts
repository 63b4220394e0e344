/**
 * The trainer role: waits for a round (gossip, or asking the aggregator), pulls the model
 * version the round trains, trains its share of the data, encodes the delta with error
 * feedback, and pushes it, retrying transient failures until the round's deadline. Its
 * sequence counter, error-feedback residual and progress live in its data directory, so a
 * restarted trainer never reuses a sequence number and joins the next round it has not
 * contributed to.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@fednode/kernels';
import { ErrorFeedback, encodeUpdate, engine, fullSlice, tasks, writeFileAtomic, type CodecOptions, type Update } from '@fednode/core';
import { strategyEntry } from '@fednode/aggregator';
import { NetError } from '../net/errors.js';
import { retryUntil } from '../net/retry.js';
import type { NodeContext } from './context.js';
import type { AggregatorLink, LinkStatus } from './link.js';
import type { TrainerStatus } from '../runtime/status-protocol.js';
import { DaemonError } from '../runtime/errors.js';
import { loadShare } from './data-share.js';
import { localTrainingOf, taskOf, type RunLocalTraining } from './run-file.js';
import type { AssignedSlice } from './slices.js';

/** Refusals that mean the aggregator already holds our update for the round. */
const DELIVERED = new Set(['DUPLICATE_SENDER', 'REPLAYED_SEQUENCE']);
/** The seed stream of local training, apart from the partition's and the model's. */
const TRAINING_STREAM = 0x7472_6169;
/** The seed stream of a trainer's own initialisation (one-shot merging with differentInit). */
const OWN_INIT_STREAM = 0x6f77_6e69;
/** How often a trainer repeats that its aggregator is unreachable while it stays so. */
const UNREACHABLE_REPEAT_MS = 30_000;
/** A push with no round deadline is retried this long. */
const NO_DEADLINE_RETRY_MS = 60_000;

interface TrainerState {
  readonly runId: string;
  /** The next sequence number to use: reserved on disk before an update leaves. */
  nextSequence: number;
  /** The last round contributed to (or given up on). */
  lastRound: number;
  /** The slice the error-feedback residual belongs to (absent in state written before slices). */
  slice?: string;
}

export interface TrainerOptions {
  readonly dataDir: string;
  readonly shard: number;
  /** The sub-network this trainer trains (the whole model unless the run file slices it). */
  readonly slice: AssignedSlice;
  readonly threads: number;
  readonly pollMs: number;
  /** Test hook: SIGKILL this process right after pulling the model of this round (the test build of the CLI: FEDNODE_FAULT=kill-after-pull:r). */
  readonly killAfterPullRound?: number;
}

interface Round {
  readonly round: number;
  readonly version: number;
  readonly deadlineUnixMs: number | null;
}

export class TrainerRole {
  private readonly ctx: NodeContext;
  private readonly opts: TrainerOptions;
  private readonly link: AggregatorLink;
  private readonly statePath: string;
  private readonly efPath: string;
  /**
   * A round's pulled model, delta and encoded update are garbage once it is pushed; collected
   * per 8 MB of them (every other round of the MNIST MLP) rather than when V8 sees 64 MB, and
   * left to V8 for models too small to matter (docs/daemon-memory.md).
   */
  private readonly garbage = new engine.GarbagePacer('full', 8 * 2 ** 20);
  private state!: TrainerState;
  private ef: ErrorFeedback | null = null;
  private trainer!: engine.Trainer;
  private share!: tasks.DataShare;
  private local!: RunLocalTraining;
  private pending: Round | null = null;
  private busy = false;
  private phase = 'starting';
  private lastLoss: number | null = null;
  private stopped = false;
  private finished = false;
  private poller: NodeJS.Timeout | null = null;
  private polling = false;
  /** When the aggregator stopped answering status requests (null: it answers). */
  private unreachableSince: number | null = null;
  private unreachableSaidAt = 0;

  constructor(ctx: NodeContext, link: AggregatorLink, opts: TrainerOptions) {
    this.ctx = ctx;
    this.link = link;
    this.opts = opts;
    mkdirSync(opts.dataDir, { recursive: true });
    this.statePath = join(opts.dataDir, 'trainer.json');
    this.efPath = join(opts.dataDir, 'error-feedback.safetensors');
  }

  private get codec(): CodecOptions {
    const { errorFeedback: _ef, ...codec } = this.ctx.run.codec;
    return codec;
  }

  async start(): Promise<void> {
    const { run, log } = this.ctx;
    this.state = this.loadState();
    const useEf = run.codec.errorFeedback ?? run.codec.codec !== 'fp32';
    if (useEf) this.ef = existsSync(this.efPath) ? ErrorFeedback.restore(new Uint8Array(readFileSync(this.efPath))) : new ErrorFeedback();
    const slice = this.opts.slice.label;
    if (this.state.slice !== undefined && this.state.slice !== slice) {
      // A residual of another sub-network has other shapes: it cannot be carried over.
      this.ef?.reset();
      log.log('warn', 'trainer.slice_changed', { from: this.state.slice, to: slice });
    }
    this.state.slice = slice;
    this.share = loadShare(run, this.opts.shard);
    const local = (this.local = localTrainingOf(run));
    this.trainer = await tasks.createLearner(taskOf(run).subnet(this.opts.slice.spec), {
      optimizer: local.optimizer,
      seed: run.seed,
      lr: run.local.lr,
      threads: this.opts.threads,
      ...(local.clipGradNorm === undefined ? {} : { clipGradNorm: local.clipGradNorm }),
      ...(local.proximalMu === undefined ? {} : { proximalMu: local.proximalMu }),
    });
    this.phase = 'waiting';
    log.log('info', 'trainer.ready', {
      task: run.task.name,
      shard: this.opts.shard,
      slice,
      slice_source: this.opts.slice.source,
      examples: this.share.examples,
      share: this.share.description,
      last_round: this.state.lastRound,
      next_sequence: this.state.nextSequence,
    });
    this.poller = setInterval(() => void this.poll(), this.opts.pollMs);
    void this.poll();
  }

  private loadState(): TrainerState {
    if (!existsSync(this.statePath)) return { runId: this.ctx.run.run, nextSequence: 0, lastRound: -1 };
    let s: TrainerState;
    try {
      s = JSON.parse(readFileSync(this.statePath, 'utf8')) as TrainerState;
    } catch (e) {
      throw new DaemonError('DAEMON_STATE', `${this.statePath} is not readable trainer state: ${(e as Error).message}`, { cause: e });
    }
    if (s.runId !== this.ctx.run.run) throw new DaemonError('DAEMON_STATE', `${this.opts.dataDir} holds trainer state of run "${s.runId}", not "${this.ctx.run.run}": use another --data-dir`);
    return s;
  }

  private saveState(): void {
    writeFileAtomic(this.statePath, [Buffer.from(JSON.stringify(this.state) + '\n')]);
  }

  /** A round announced on gossip (or by the in-process aggregator). */
  onRoundOpen(r: Round, from: string | null): void {
    if (from !== null && this.link.peer !== null && from !== this.link.peer) return;
    // Gossip can announce a round while the model is still being built: the poller takes it up once ready.
    if (this.phase === 'starting') return;
    if (this.stopped || this.finished || r.round <= this.state.lastRound) return;
    if (r.version >= this.ctx.run.rounds) return;
    if (this.pending === null || r.round > this.pending.round) this.pending = r;
    void this.work();
  }

  /** A version announced: the run is over for us once the last one is made. */
  onModelAnnounce(version: number): void {
    if (version >= this.ctx.run.rounds) this.finish(version);
  }

  /** Asks the aggregator what is open: covers gossip that has not formed yet, and restarts. */
  private async poll(): Promise<void> {
    // A status request can outlast the poll interval (an aggregator that does not answer): one at a time.
    if (this.stopped || this.finished || this.polling) return;
    this.polling = true;
    let r: LinkStatus;
    try {
      r = await this.link.status();
    } finally {
      this.polling = false;
    }
    if (this.stopped) return;
    if (!r.ok) {
      this.unreachable(r.reason);
      return;
    }
    if (this.unreachableSince !== null) {
      this.ctx.log.log('info', 'aggregator.reachable', { after_s: Math.round((Date.now() - this.unreachableSince) / 1000) });
      this.unreachableSince = null;
      if (!this.busy) this.phase = 'waiting';
    }
    this.ctx.metrics.set('fednode_trainer_aggregator_reachable', 'Whether the last status request reached the aggregator (1) or not (0)', 1);
    const s = r.status;
    if (s.done) {
      this.finish(s.version);
      return;
    }
    const full = s.cohort !== null && s.received >= s.cohort;
    if (!full) this.onRoundOpen({ round: s.round, version: s.version, deadlineUnixMs: s.deadlineUnixMs }, null);
  }

  /** The aggregator did not answer: said at once and every half minute while it lasts, and the polls go on. */
  private unreachable(reason: string): void {
    const now = Date.now();
    this.ctx.metrics.set('fednode_trainer_aggregator_reachable', 'Whether the last status request reached the aggregator (1) or not (0)', 0);
    if (this.unreachableSince === null) {
      this.unreachableSince = now;
      this.unreachableSaidAt = 0;
    }
    if (now - this.unreachableSaidAt >= UNREACHABLE_REPEAT_MS) {
      this.unreachableSaidAt = now;
      this.ctx.log.log('warn', 'aggregator.unreachable', {
        aggregator: this.link.peer,
        reason,
        for_s: Math.round((now - this.unreachableSince) / 1000),
        retry_every_s: this.opts.pollMs / 1000,
      });
    }
    if (!this.busy) this.phase = `waiting: the aggregator is unreachable (${reason.slice(0, 120)}); retrying every ${this.opts.pollMs / 1000} s`;
  }

  private finish(version: number): void {
    if (this.finished) return;
    this.finished = true;
    this.phase = 'done';
    if (this.poller !== null) clearInterval(this.poller);
    this.ctx.log.log('info', 'run.complete', { version });
    // After the round in progress (if any): its push is already past the point of mattering.
    const wait = async (): Promise<void> => {
      while (this.busy) await new Promise((r) => setTimeout(r, 50));
    };
    void wait().then(() => this.ctx.events.emit('done', { version }));
  }

  private async work(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.pending !== null && !this.stopped) {
        const r = this.pending;
        this.pending = null;
        if (r.round <= this.state.lastRound) continue;
        await this.contribute(r);
      }
    } catch (e) {
      if (!this.stopped) {
        this.ctx.log.log('error', 'trainer.failed', { reason: (e as Error).message, code: (e as { code?: string }).code ?? null });
        this.ctx.events.emit('error', e as Error);
      }
    } finally {
      this.busy = false;
      if (!this.finished) this.phase = 'waiting';
    }
  }

  private deadlineOf(r: Round): number {
    return r.deadlineUnixMs !== null && r.deadlineUnixMs > 0 ? r.deadlineUnixMs : Date.now() + NO_DEADLINE_RETRY_MS;
  }

  /** One round: pull, train, encode, push. */
  private async contribute(r: Round): Promise<void> {
    const { run, log, events } = this.ctx;
    const deadline = this.deadlineOf(r);
    this.phase = `pulling v${r.version}`;
    let model: Awaited<ReturnType<AggregatorLink['pull']>> | null;
    try {
      model = await this.retry(`pull v${r.version}`, deadline, () => this.link.pull(r.version, this.opts.slice.slice));
    } catch (e) {
      // Refused (the round moved on, or we are not admitted): this round is lost, not the run.
      const code = e instanceof NetError ? (e.remoteCode ?? e.code) : 'ERROR';
      log.log('warn', 'round.missed', { round: r.round, code, reason: (e as Error).message });
      this.state.lastRound = r.round;
      this.saveState();
      return;
    }
    if (model === null) {
      log.log('warn', 'round.missed', { round: r.round, reason: 'could not pull the model before the deadline' });
      return;
    }
    log.log('info', 'model.received', { round: r.round, version: model.version, parameters: model.params.size });
    events.emit('modelReceived', { version: model.version, round: r.round, parameters: model.params.size });
    if (this.opts.killAfterPullRound !== undefined && r.round >= this.opts.killAfterPullRound) {
      log.log('warn', 'fault.kill', { after_pull_round: r.round });
      process.kill(process.pid, 'SIGKILL');
    }

    this.phase = `training round ${r.round}`;
    const t0 = performance.now();
    // One-shot runs from different initialisations start from the trainer's own; the delta is
    // still taken from the pulled model, which the aggregator adds back to get the whole model.
    await this.trainer.setParams(this.local.ownInit === true ? taskOf(run).initialParams(Rng.derive(run.seed, OWN_INIT_STREAM, this.opts.shard).nextU32()) : model.params);
    const seed = Rng.derive(run.seed, TRAINING_STREAM, r.round, this.opts.shard).nextU32();
    // FedProx's partial work: stop at the deadline, keeping a fifth of what is left (at least 1 s) to encode and push.
    const left = r.deadlineUnixMs === null || r.deadlineUnixMs <= 0 ? null : (r.deadlineUnixMs - Date.now()) / 1000;
    const timeLimitS = this.local.partialWork === true && left !== null ? Math.max(1e-3, left - Math.max(1, left / 5)) : undefined;
    const report = await tasks.trainLocal(this.trainer, this.share, { budget: this.local.budget, batch: run.local.batch, lr: run.local.lr, schedule: this.local.schedule, seed, ...(timeLimitS === undefined ? {} : { timeLimitS }) });
    const planned = tasks.budgetSteps(this.local.budget, this.share, run.local.batch);
    if (report.steps < planned) log.log('info', 'update.partial', { round: r.round, steps: report.steps, of: planned, time_limit_s: timeLimitS ?? null });
    const delta = await this.trainer.params();
    const d = delta.data;
    const g = model.params.data;
    for (let i = 0; i < d.length; i++) d[i] -= g[i];
    const loss = report.loss;
    this.lastLoss = loss;
    const trainS = (performance.now() - t0) / 1000;

    // Encode on a copy of the residual: it becomes ours only if the update is delivered.
    const ef = this.ef === null ? undefined : ErrorFeedback.restore(this.ef.save());
    const sequence = this.state.nextSequence;
    const update: Update = encodeUpdate(
      { runId: run.run, sender: this.ctx.peerId, baseVersion: model.version, round: r.round, sequence, examples: this.share.examples, metrics: { loss, steps: report.steps, train_s: trainS } },
      this.opts.slice.slice ?? fullSlice(delta.specs),
      delta,
      this.codec,
      ef,
    );
    // What the encoding cost (DeMo's transform is not free): a real run's prediction counts it as compute.
    const encodeS = (performance.now() - t0) / 1000 - trainS;
    // Reserve the sequence number before the update leaves: a restart never sends it again.
    this.state.nextSequence = sequence + 1;
    this.saveState();

    this.phase = `pushing round ${r.round}`;
    let outcome: 'accepted' | 'delivered' | 'refused' | 'missed' = 'missed';
    let version = model.version;
    try {
      const v = await this.retry(`push round ${r.round}`, deadline, () => this.link.push(update));
      if (v !== null) {
        outcome = 'accepted';
        version = v;
      }
    } catch (e) {
      const code = e instanceof NetError ? (e.remoteCode ?? e.code) : 'ERROR';
      if (DELIVERED.has(code)) outcome = 'delivered';
      else {
        outcome = 'refused';
        log.log('warn', 'update.refused', { round: r.round, code, reason: (e as Error).message });
        events.emit('updateRefused', { role: 'trainer', peer: this.link.peer ?? '?', code, reason: (e as Error).message });
      }
    }
    if ((outcome === 'accepted' || outcome === 'delivered') && ef !== undefined) {
      this.ef = ef;
      writeFileAtomic(this.efPath, [ef.save()]);
    }
    // FedBuff takes one update per trainer into each buffer, and a late update lands in the
    // buffer of the version acknowledged, not of the one it was trained from: the next one
    // must wait for the version after that, or it would be refused as a duplicate.
    const landed = strategyEntry(run.strategy.kind).pacing === 'continuous' && outcome === 'accepted' ? version : r.round;
    this.state.lastRound = Math.max(r.round, landed);
    this.saveState();
    this.ctx.metrics.inc('fednode_trainer_updates_total', 'Updates this trainer pushed, by outcome', { outcome });
    this.ctx.metrics.set('fednode_trainer_last_loss', 'Mean local training loss of the last round', loss);
    if (outcome === 'accepted' || outcome === 'delivered') {
      log.log('info', 'update.pushed', { round: r.round, sequence, outcome, slice: this.opts.slice.label, loss, train_s: trainS, steps: report.steps, encode_s: encodeS, bytes: update.tensors.reduce((n, t) => n + t.payload.byteLength, 0) });
      events.emit('updateAccepted', { role: 'trainer', peer: this.link.peer ?? '?', round: r.round, sequence, version });
    } else if (outcome === 'missed') {
      log.log('warn', 'round.missed', { round: r.round, reason: 'could not deliver the update before the deadline' });
    }
    // The model's copies (pulled, decoded, trained, the delta) and the encoded update are dead
    // now, and the trainer waits for the next round.
    this.garbage.add(6 * delta.data.byteLength);
    setImmediate(() => this.garbage.collectIfDue());
  }

  /**
   * Runs `fn` until it succeeds, retrying transient failures (timeouts, dropped connections, an
   * aggregator restarting) with backoff until `deadline`; null when the deadline passed first.
   * Refusals are answers, not failures: they are thrown at once.
   */
  private retry<T>(what: string, deadline: number, fn: () => Promise<T>): Promise<T | null> {
    return retryUntil(fn, { deadline, stopped: () => this.stopped, onRetry: (attempt, e) => this.ctx.log.log('info', 'retry', { what, attempt, reason: e.message.slice(0, 200) }) });
  }

  status(): TrainerStatus {
    return {
      shard: this.opts.shard,
      slice: this.opts.slice.label,
      rows: this.share?.examples ?? 0,
      lastRound: this.state?.lastRound ?? -1,
      nextSequence: this.state?.nextSequence ?? 0,
      state: this.phase,
      lastLoss: this.lastLoss,
      aggregator: this.link.peer,
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.poller !== null) clearInterval(this.poller);
    // Let a step in flight finish before the session closes under it.
    for (let i = 0; i < 100 && this.busy; i++) await new Promise((r) => setTimeout(r, 50));
    await this.trainer?.close();
  }
}
