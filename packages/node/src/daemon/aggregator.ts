/**
 * The aggregator role: holds the global model, opens rounds on the run's gossip topic, serves
 * the model, takes updates (admission, header checks before any payload, validation, the
 * strategy), logs each accepted update to the write-ahead log before acknowledging it, and
 * closes rounds into checkpointed versions. On restart it resumes from the last checkpoint
 * and replays the log, so an acknowledged update is applied once, never twice or not at all.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  CheckpointStore,
  engine,
  ParamSet,
  resolveSlice,
  updateFromFrames,
  updateToFrames,
  type tasks,
  type EncodedTensor,
  type ModelCodec,
  type ModelRequest,
  type Update,
  type UpdateHeaderInfo,
} from '@fednode/core';
import { clientUpdateFrom, createStrategy, restoreStrategy, savedStrategyKind, strategyWarnings, type AggregateResult, type CreateContext, type Strategy } from '@fednode/aggregator';
import { Refused, refusalOf } from '../net/errors.js';
import { serveUpdates } from '../net/update-protocol.js';
import { encodeWholeModel, serveModels, type ProvidedModel } from '../net/model-protocol.js';
import type { NodeContext } from './context.js';
import type { AggregatorStatus } from '../runtime/status-protocol.js';
import type { LogFields } from '../runtime/log.js';
import { WriteAheadLog } from './wal.js';
import { DaemonError } from '../runtime/errors.js';
import { loadTestSet } from './data-share.js';
import { taskOf } from './run-file.js';
import { SlicePolicy, type AssignedSlice } from './slices.js';
import { VersionEvaluator } from './evaluation.js';
import { runAssembler, type RunAssembler } from './mixture-assembler.js';
import { initialModel } from './initial-model.js';
import { alignmentOf } from '../merge/methods.js';

/** Refusal codes of the daemon's own checks (the strategy's are in @fednode/aggregator's RefusalCode). */
export const REPLAYED_SEQUENCE = 'REPLAYED_SEQUENCE';
export const RUN_COMPLETE = 'RUN_COMPLETE';
export const UPDATE_SHAPE = 'UPDATE_SHAPE';
/** The update's slice is not one the run file lets its sender train. */
export const SLICE_NOT_ASSIGNED = 'SLICE_NOT_ASSIGNED';

/** How often the aggregator checks deadlines and re-announces the open round. */
const TICK_MS = 100;
const REANNOUNCE_MS = 1000;
/** Decoded updates (bytes) a round must have received for collections at its close to pay for themselves. */
const ROUND_GARBAGE_WORTH_COLLECTING = 4 * 2 ** 20;

/** What a checkpoint records besides the model and the strategy state. */
interface DaemonMeta {
  /** The last sequence number accepted from each peer (replay protection survives restarts). */
  readonly sequences: Record<string, number>;
}

export interface AggregatorOptions {
  readonly dataDir: string;
  readonly threads: number;
  /** Where the run file's relative paths (initialModel) resolve. */
  readonly baseDir: string;
  /** Test hook: SIGKILL this process right after the n-th acknowledged update (the test build of the CLI: FEDNODE_FAULT=kill-after-ack:n). */
  readonly killAfterAcks?: number;
}

/** The header fields the checks read (a decoded header, or a whole update from an in-process trainer). */
type HeaderFields = Pick<UpdateHeaderInfo, 'runId' | 'round' | 'baseVersion' | 'sequence' | 'slice' | 'examples'> & {
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[] }[];
};

export class AggregatorRole {
  private readonly ctx: NodeContext;
  private readonly opts: AggregatorOptions;
  private readonly store: CheckpointStore;
  private readonly historyPath: string;
  private strategy!: Strategy;
  private wal!: WriteAheadLog;
  private evaluator!: VersionEvaluator;
  /**
   * Received updates live across a few event-loop turns and are promoted before they die; V8
   * would wait for 64 MB of them. A full collection per 16 MB decoded (10 MNIST-MLP updates)
   * and after each round (its checkpoint's and evaluation's copies) kept the 32-trainer run's
   * aggregator near 200 MB instead of 260 (docs/daemon-memory.md). A round of a small model
   * makes too little garbage to be worth a collection: those are left to V8.
   */
  private readonly garbage = new engine.GarbagePacer('full', 16 * 2 ** 20);
  /** Bytes of the updates decoded since the last round closed. */
  private roundGarbage = 0;
  private assembler!: RunAssembler;
  private slices!: SlicePolicy;
  private testSet: tasks.EvalSet | null = null;
  private sequences = new Map<string, number>();
  private lastMetrics: Record<string, number> | null = null;
  private done = false;
  private stopped = false;
  private closing = false;
  private acks = 0;
  private acceptedCount = 0;
  private timers: NodeJS.Timeout[] = [];
  private stopServing: (() => Promise<void>)[] = [];
  private evalChain: Promise<void> = Promise.resolve();
  /** The current version as served, one encoding per codec, dropped when the version changes. */
  private served: { readonly version: number; readonly byCodec: Map<ModelCodec, readonly EncodedTensor[]> } | null = null;
  /** The strategy's `prepare` in flight (a mixture's router training): stopped with the node. */
  private preparing: { readonly abort: AbortController; readonly work: Promise<void> } | null = null;

  constructor(ctx: NodeContext, opts: AggregatorOptions) {
    this.ctx = ctx;
    this.opts = opts;
    mkdirSync(opts.dataDir, { recursive: true });
    this.store = new CheckpointStore(join(opts.dataDir, 'checkpoints'), { keep: 5 });
    this.historyPath = join(opts.dataDir, 'history.jsonl');
  }

  private get kind(): string {
    return this.ctx.run.strategy.kind;
  }

  /** What a WAL record belongs to (a round, or the version being made: the strategy says). */
  private get epoch(): number {
    return this.strategy.epoch;
  }

  async start(): Promise<void> {
    const { run, log } = this.ctx;
    for (const warning of strategyWarnings(run.strategy)) log.log('warn', 'strategy.warning', { warning });
    this.assembler = runAssembler(run, this.opts.threads, log);
    this.evaluator = await VersionEvaluator.create(run, this.opts.threads, (specs) => this.assembler.taskOfLayout(specs));
    this.testSet = loadTestSet(run);
    const { checkpoint: ck, damaged } = this.store.loadNewestIntact();
    for (const d of damaged) log.log('warn', 'checkpoint.damaged', { version: d.version, file: d.path, reason: d.reason });
    if (ck === null && damaged.length > 0) {
      throw new DaemonError('DAEMON_STATE', `no intact checkpoint in ${this.store.dir}: ${damaged.map((d) => `${d.path} (${d.reason})`).join('; ')}`);
    }
    if (ck === null) {
      const init = initialModel(run, this.opts.baseDir);
      this.strategy = createStrategy(init.params, run.strategy, this.strategyContext());
      this.checkpoint();
      log.log('info', 'aggregator.initialised', { version: 0, parameters: this.strategy.global.size, strategy: this.kind, from: init.source });
    } else {
      if (damaged.length > 0) log.log('warn', 'checkpoint.fallback', { version: ck.version, file: this.store.tensorPath(ck.version), passed_over: damaged.map((d) => d.path) });
      if (ck.runId !== run.run) throw new DaemonError('DAEMON_STATE', `${this.opts.dataDir} holds run "${ck.runId}", not "${run.run}": use another --data-dir`);
      if (ck.strategyState === undefined) throw new DaemonError('DAEMON_STATE', `checkpoint v${ck.version} in ${this.store.dir} has no strategy state`);
      const saved = savedStrategyKind(ck.strategyState);
      if (saved !== this.kind) throw new DaemonError('DAEMON_STATE', `${this.opts.dataDir} was run with strategy ${saved}, the run file says ${this.kind}`);
      // The run file's section brings the deadline policy; the aggregation state is the checkpoint's.
      this.strategy = restoreStrategy(ck.strategyState, run.strategy, this.strategyContext());
      const meta = JSON.parse(ck.extra?.daemon ?? '{"sequences":{}}') as DaemonMeta;
      this.sequences = new Map(Object.entries(meta.sequences));
      log.log('info', 'aggregator.resumed', { version: this.strategy.version, epoch: this.epoch, strategy: this.kind });
      // A crash while the newest version was being scored leaves it unscored: score it now.
      if (ck.version > 0 && !this.evaluatedVersions().has(ck.version)) this.evaluate(this.strategy.global.clone(), ck.version, []);
    }
    // The run task's layout: a one-shot run's merged version may be another task's (an assembled mixture).
    this.slices = new SlicePolicy(run, taskOf(run), taskOf(run).specs);
    this.evaluator.scoreSlices(this.slices.partial());
    this.replayLog();
    this.done = this.strategy.version >= run.rounds;
    this.stopServing.push(
      await serveUpdates(this.ctx.host, {
        limits: this.ctx.limits,
        timeoutMs: this.ctx.timeoutMs,
        admission: this.ctx.admission,
        maxInboundStreams: 8,
        onHeader: (h, peer) => void this.checkHeader(h, peer),
        onUpdate: (u, peer) => this.accept(u, peer),
        onAcknowledged: () => this.acknowledged(),
        onRefused: (peer, code, reason) => this.refused(peer, code, reason),
      }),
      await serveModels(this.ctx.host, {
        limits: this.ctx.limits,
        timeoutMs: this.ctx.timeoutMs,
        admission: this.ctx.admission,
        maxInboundStreams: 16,
        provide: (r) => this.provide(r),
        onRefused: (peer, code, reason) => log.log('warn', 'model.refused', { peer, code, reason }),
      }),
    );
    if (this.done) {
      this.finish();
    } else {
      this.openRound();
      this.timers.push(setInterval(() => this.tick(), TICK_MS));
      this.timers.push(setInterval(() => this.reannounce(), REANNOUNCE_MS));
    }
  }

  /** What the run lends its strategy: the run id, the assembler of trained merges, and the model's permutation symmetries. */
  private strategyContext(): CreateContext {
    const alignment = alignmentOf(taskOf(this.ctx.run));
    return { runId: this.ctx.run.run, assembler: this.assembler, ...(alignment === undefined ? {} : { alignment }) };
  }

  /** Re-offers the log's records of the current epoch; older ones are already in the checkpoint. */
  private replayLog(): void {
    const { wal, recovered } = WriteAheadLog.open(join(this.opts.dataDir, 'updates.wal'));
    this.wal = wal;
    let applied = 0;
    let skipped = 0;
    let refused = 0;
    for (const r of recovered.records) {
      if (r.epoch !== this.epoch) {
        skipped++;
        continue;
      }
      try {
        const update = updateFromFrames(r.frames, this.ctx.limits);
        const a = this.strategy.offer(clientUpdateFrom(update, this.strategy.global.specs, r.peer));
        if (!a.accepted) {
          // The same offers in the same order get the same answers: this one was refused live too.
          refused++;
          continue;
        }
        this.sequences.set(r.peer, update.sequence);
        applied++;
      } catch (e) {
        refused++;
        this.ctx.log.log('warn', 'wal.record_unusable', { peer: r.peer, reason: (e as Error).message });
      }
    }
    if (recovered.records.length > 0 || recovered.droppedBytes > 0) {
      this.ctx.log.log('info', 'wal.replayed', { records: recovered.records.length, applied, skipped, refused, torn_bytes: recovered.droppedBytes, epoch: this.epoch });
    }
    this.ctx.metrics.inc('fednode_wal_replayed_total', 'Updates re-applied from the write-ahead log at start', {}, applied);
  }

  /** Checks that need no payload: refused here, a sender never transfers its tensors. Returns the slice the update holds. */
  checkHeader(h: HeaderFields, peer: string): AssignedSlice {
    const s = this.strategy;
    // First: once done, the model may be another task's (an assembled mixture), which no upload fits.
    if (this.done) throw new Refused(RUN_COMPLETE, `the run made its ${this.ctx.run.rounds} versions`);
    // The message itself first, then whether it fits the round.
    // The tensors must be the slice's, with its shapes: the payload sizes then follow from the
    // (already validated) codec parameters, so nothing larger than the model can be sent.
    let resolved;
    try {
      resolved = resolveSlice(h.slice, s.global.specs);
    } catch (e) {
      throw new Refused(UPDATE_SHAPE, `the slice does not fit the model: ${(e as Error).message}`);
    }
    if (h.tensors.length !== resolved.tensors.length) throw new Refused(UPDATE_SHAPE, `${h.tensors.length} tensors, the slice holds ${resolved.tensors.length}`);
    h.tensors.forEach((t, i) => {
      const want = resolved.tensors[i];
      if (t.name !== want.name || t.shape.length !== want.localShape.length || t.shape.some((d, a) => d !== want.localShape[a])) {
        throw new Refused(UPDATE_SHAPE, `tensor ${i} is ${t.name} [${t.shape.join(', ')}], the model has ${want.name} [${want.localShape.join(', ')}]`);
      }
    });
    const verdict = this.slices.check(peer, resolved);
    if (!verdict.ok) throw new Refused(SLICE_NOT_ASSIGNED, verdict.reason);
    if (h.runId !== this.ctx.run.run) throw new Refused('WRONG_RUN', `run "${h.runId}", this aggregator serves "${this.ctx.run.run}"`);
    if (this.closing) throw new Refused('ROUND_CLOSED', `epoch ${s.epoch} is closing`);
    // A ready epoch (a full FedBuff buffer, or two updates completing before the tick) waits for
    // the next tick to be aggregated: close it now, so this update is judged by the next epoch.
    if (!this.done && this.strategy.ready(Date.now())) this.closeWhenReady(Date.now());
    if (this.done) throw new Refused(RUN_COMPLETE, `the run made its ${this.ctx.run.rounds} versions`);
    if (this.closing) throw new Refused('ROUND_CLOSED', `epoch ${s.epoch} is closing`);
    const refusal = this.strategy.precheck({ sender: peer, runId: h.runId, round: h.round, baseVersion: h.baseVersion, examples: h.examples });
    if (refusal !== null) throw new Refused(refusal.code, refusal.reason);
    const last = this.sequences.get(peer);
    if (last !== undefined && h.sequence <= last) throw new Refused(REPLAYED_SEQUENCE, `sequence ${h.sequence} from ${peer} is not after its last accepted ${last}`);
    return verdict.slice;
  }

  /**
   * Takes a complete update from the authenticated `peer`: the header checks again (the round
   * may have moved while its payload streamed), validation, the log (fsynced), the strategy.
   * All synchronous, so no other update or round change interleaves.
   */
  accept(update: Update, peer: string): { version: number } {
    if (this.opts.killAfterAcks !== undefined && this.acceptedCount >= this.opts.killAfterAcks) {
      // Fault injection: the process is about to die; take nothing more (a transient refusal).
      throw new Refused('INTERNAL', 'the aggregator is stopping');
    }
    const slice = this.checkHeader(update, peer);
    // Logged as the strategy weighs it, when it weighs staleness.
    const staleness = this.strategy.staleness(update.baseVersion);
    const cu = clientUpdateFrom(update, this.strategy.global.specs, peer);
    // Everything the strategy would refuse, refused before the log: an update is acknowledged only if it is used.
    const refusal = this.strategy.check(cu);
    if (refusal !== null) throw refusal;
    this.wal.append({ epoch: this.epoch, peer, frames: updateToFrames(update) });
    const a = this.strategy.offer(cu);
    // The decoded delta, the received frames and the log's copy of them are garbage once this
    // returns, unless the strategy kept them; collected after it has returned.
    const garbage = 2 * cu.delta.data.byteLength;
    this.garbage.add(garbage);
    this.roundGarbage += garbage;
    setImmediate(() => this.garbage.collectIfDue());
    if (!a.accepted) throw a.refusal;
    this.sequences.set(peer, update.sequence);
    this.acceptedCount++;
    const round = this.epoch;
    this.ctx.metrics.inc('fednode_updates_accepted_total', 'Updates accepted by the aggregator');
    this.ctx.metrics.set('fednode_round_received', 'Updates accepted for the open round or buffer', this.received);
    this.ctx.log.log('info', 'update.accepted', {
      peer,
      round,
      sequence: update.sequence,
      base_version: update.baseVersion,
      ...(staleness === undefined ? {} : { staleness }),
      slice: slice.label,
      examples: update.examples,
      loss: update.metrics.loss ?? null,
    });
    this.ctx.events.emit('updateAccepted', { role: 'aggregator', peer, round, sequence: update.sequence, version: this.strategy.version });
    // A macrotask, not now: the update's acknowledgement must not wait for an aggregation.
    setImmediate(() => this.tick());
    return { version: this.strategy.version };
  }

  /** Updates accepted for the open epoch. */
  private get received(): number {
    return this.strategy.received;
  }

  private acknowledged(): void {
    this.acks++;
    if (this.opts.killAfterAcks !== undefined && this.acks >= this.opts.killAfterAcks) {
      this.ctx.log.log('warn', 'fault.kill', { after_acks: this.acks });
      // The ack is written and the stream closed: die now, without any cleanup.
      process.kill(process.pid, 'SIGKILL');
    }
  }

  private refused(peer: string, code: string, reason: string): void {
    this.ctx.metrics.inc('fednode_updates_refused_total', 'Updates refused by the aggregator', { code });
    this.ctx.log.log('warn', 'update.refused', { peer, code, reason });
    this.ctx.events.emit('updateRefused', { role: 'aggregator', peer, code, reason });
  }

  /** Refusals from an in-process trainer (role both) are reported like remote ones. */
  refusedLocal(peer: string, e: unknown): void {
    const { code, reason } = refusalOf(e);
    this.refused(peer, code, reason);
  }

  private provide(r: ModelRequest): ProvidedModel | null {
    if (r.runId !== this.ctx.run.run) throw new Refused('WRONG_RUN', `this aggregator serves run "${this.ctx.run.run}"`);
    const s = this.strategy;
    if (r.version === 'latest' || r.version === s.version) return { version: s.version, round: this.epoch, params: s.global, encoded: (codec) => this.servedAs(s.version, codec) };
    if (r.version > s.version || !this.store.versions().includes(r.version)) return null;
    return { version: r.version, round: this.epoch, params: this.store.load(r.version).params };
  }

  /** `version` (the current one) encoded with `codec`: encoded once, sent to every trainer that asks. */
  private servedAs(version: number, codec: ModelCodec): readonly EncodedTensor[] {
    // An aggregation between the request and its encoding moved the model on: that version is the checkpoint's.
    if (version !== this.strategy.version) return encodeWholeModel(this.store.load(version).params, codec);
    if (this.served?.version !== version) this.served = { version, byCodec: new Map() };
    let tensors = this.served.byCodec.get(codec);
    if (tensors === undefined) {
      tensors = encodeWholeModel(this.strategy.global, codec);
      this.served.byCodec.set(codec, tensors);
    }
    return tensors;
  }

  /** The model for an in-process trainer (role both): a copy, since aggregation updates it in place. */
  model(version: number): { version: number; round: number; params: ParamSet } | null {
    const m = this.provide({ runId: this.ctx.run.run, version, slice: null, codec: 'fp32' });
    return m === null ? null : { version: m.version, round: m.round, params: m.params.clone() };
  }

  private openRound(): void {
    this.strategy.open(Date.now());
    const deadlineMs = this.strategy.deadlineMs;
    this.ctx.metrics.set('fednode_round', 'The round being collected', this.epoch);
    this.ctx.metrics.set('fednode_model_version', 'The global model version', this.strategy.version);
    this.ctx.metrics.set('fednode_round_received', 'Updates accepted for the open round or buffer', 0);
    this.ctx.log.log('info', 'round.opened', { round: this.epoch, version: this.strategy.version, deadline_unix_ms: deadlineMs });
    this.ctx.events.emit('roundOpened', { round: this.epoch, version: this.strategy.version, deadlineUnixMs: deadlineMs });
    this.reannounce();
  }

  private reannounce(): void {
    if (this.done || this.stopped) return;
    const body = { kind: 'roundOpen', round: this.epoch, modelVersion: this.strategy.version, deadlineUnixMs: this.strategy.deadlineMs ?? 0, assignments: [] } as const;
    this.ctx.control.publish({ runId: this.ctx.run.run, body }).catch((e: Error) => this.ctx.log.log('debug', 'gossip.failed', { reason: e.message }));
    this.ctx.metrics.set('fednode_peers', 'Connected peers', this.ctx.host.getConnections().length);
  }

  private tick(): void {
    if (this.done || this.stopped || this.closing) return;
    const now = Date.now();
    const s = this.strategy;
    try {
      if (s.ready(now)) this.closeWhenReady(now);
      else if (s.deadlineMs !== null && now >= s.deadlineMs) this.abandon(now);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /**
   * Closes the ready epoch, after the strategy's `prepare` where it has one (an assembled
   * mixture trains its routers for a while): meanwhile the epoch counts as closing and the
   * strategy refuses what it would leave out.
   */
  private closeWhenReady(now: number): void {
    const s = this.strategy;
    if (s.prepare === undefined) {
      this.closeEpoch(now);
      return;
    }
    this.closing = true;
    const abort = new AbortController();
    const work = s
      .prepare(now, abort.signal)
      .then(() => {
        this.closing = false;
        if (!this.stopped && !this.done) this.closeEpoch(Date.now());
      })
      .catch((e: Error) => {
        this.closing = false;
        if (this.stopped) this.ctx.log.log('info', 'aggregator.prepare_stopped', { reason: e.message });
        else this.fail(e);
      });
    this.preparing = { abort, work };
  }

  private closeEpoch(now: number): void {
    const epoch = this.strategy.epoch;
    this.close(this.strategy.aggregate(now), epoch);
  }

  /** The deadline passed and the strategy is not ready: the epoch ends without a new version, or the strategy waits on. */
  private abandon(now: number): void {
    const s = this.strategy;
    const epoch = s.epoch;
    const received = s.received;
    if (!s.abandon(now)) return;
    this.endEpoch();
    this.ctx.log.log('warn', 'round.abandoned', { round: epoch, received, needed: s.expected });
    this.openRound();
  }

  /** Checkpoints the strategy as it stands, then empties the log the checkpoint now covers. */
  private endEpoch(): void {
    this.checkpoint();
    this.wal.truncate();
  }

  private checkpoint(): void {
    const meta: DaemonMeta = { sequences: Object.fromEntries(this.sequences) };
    this.store.save({
      runId: this.ctx.run.run,
      version: this.strategy.version,
      params: this.strategy.global,
      strategyState: this.strategy.saveState(),
      extra: { daemon: JSON.stringify(meta) },
    });
  }

  /** `round`: the epoch the result closes. */
  private close(result: AggregateResult, round: number): void {
    this.closing = true;
    // The round's received updates are garbage now: freed before the checkpoint's and the
    // evaluation's copies are made, so those do not stack on top of them.
    const collect = this.roundGarbage >= ROUND_GARBAGE_WORTH_COLLECTING;
    this.roundGarbage = 0;
    if (collect) engine.collectGarbage('full');
    try {
      this.endEpoch();
      this.lastMetrics = { ...result.metrics };
      const params = result.params.clone();
      const sha = createHash('sha256').update(new Uint8Array(params.data.buffer, params.data.byteOffset, params.data.byteLength)).digest();
      this.ctx.metrics.inc('fednode_versions_total', 'Versions made by the aggregator');
      this.ctx.metrics.set('fednode_model_version', 'The global model version', result.version);
      this.ctx.log.log('info', 'round.closed', { round, version: result.version, ...result.metrics, peers: [...result.participants] });
      this.ctx.events.emit('versionAnnounced', { version: result.version, round, participants: result.participants, metrics: result.metrics });
      this.ctx.control
        .publish({ runId: this.ctx.run.run, body: { kind: 'modelAnnounce', version: result.version, round: this.epoch, sha256: sha, parameters: params.size } })
        .catch((e: Error) => this.ctx.log.log('debug', 'gossip.failed', { reason: e.message }));
      this.evaluate(params, result.version, [...result.participants], result.report, result.references);
      // The checkpoint's bytes, the evaluation's copies and this clone.
      if (collect) setImmediate(() => engine.collectGarbage('full'));
      if (result.version >= this.ctx.run.rounds) {
        this.done = true;
        this.finish();
      } else {
        this.openRound();
      }
    } finally {
      this.closing = false;
    }
  }

  /** Versions the history file records as evaluated (a torn last line is not one). */
  private evaluatedVersions(): Set<number> {
    if (!existsSync(this.historyPath)) return new Set();
    const out = new Set<number>();
    for (const line of readFileSync(this.historyPath, 'utf8').split('\n')) {
      try {
        const r = JSON.parse(line) as { version?: unknown };
        if (typeof r.version === 'number') out.add(r.version);
      } catch {
        // a line cut short by the crash: that version was not recorded
      }
    }
    return out;
  }

  /** Evaluations run one after another, off the update path. `report`: the strategy's line for this version, logged with the scores. */
  private evaluate(params: ParamSet, version: number, participants: string[], report?: AggregateResult['report'], references: AggregateResult['references'] = []): void {
    const test = this.testSet;
    this.evalChain = this.evalChain.then(async () => {
      const rec: Record<string, unknown> = { version, participants: participants.length, t: Date.now() };
      let scores: { accuracy: number; loss: number } | null = null;
      if (test !== null && !this.stopped) {
        const e = await this.evaluator.evaluate(params, test);
        scores = { accuracy: e.accuracy, loss: e.loss };
        rec.accuracy = e.accuracy;
        rec.loss = e.loss;
        if (e.bySlice !== undefined) rec.accuracy_by_slice = e.bySlice;
        this.ctx.metrics.set('fednode_test_accuracy', 'Test accuracy of the newest evaluated version', e.accuracy);
        this.ctx.metrics.set('fednode_test_loss', 'Test loss of the newest evaluated version', e.loss);
        if (this.lastMetrics !== null) this.lastMetrics = { ...this.lastMetrics, accuracy: e.accuracy, loss: e.loss };
        this.ctx.log.log('info', 'version.evaluated', { version, accuracy: e.accuracy, loss: e.loss, rows: e.count, ...(e.bySlice === undefined ? {} : { accuracy_by_slice: e.bySlice, loss_by_slice: e.lossBySlice }) });
        this.ctx.events.emit('evaluated', { version, accuracy: e.accuracy, loss: e.loss });
      }
      appendFileSync(this.historyPath, JSON.stringify(rec) + '\n');
      // What the version is compared with, scored on the same rows (one-shot: each input and the plain average).
      const comparedLoss: Record<string, number> = {};
      const comparedAccuracy: Record<string, number> = {};
      if (test !== null && !this.stopped) {
        for (const r of references) {
          if (this.stopped) break;
          const e = await this.evaluator.evaluate(r.params, test);
          comparedLoss[r.label] = e.loss;
          comparedAccuracy[r.label] = e.accuracy;
        }
      }
      if (report !== undefined) {
        const fields: Record<string, LogFields[string]> = { version, ...report.fields, accuracy: scores?.accuracy ?? null, loss: scores?.loss ?? null };
        if (Object.keys(comparedLoss).length > 0) Object.assign(fields, { compared_loss: comparedLoss, compared_accuracy: comparedAccuracy });
        this.ctx.log.log('info', report.event, fields);
      }
    }).catch((e: Error) => this.ctx.log.log('error', 'evaluation.failed', { version, reason: e.message }));
  }

  private finish(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const version = this.strategy.version;
    void this.evalChain.then(() => {
      this.ctx.log.log('info', 'run.complete', { version, rounds: this.ctx.run.rounds });
      // Announce the final version again for trainers that missed it, then report done.
      this.ctx.control
        .publish({ runId: this.ctx.run.run, body: { kind: 'modelAnnounce', version, round: this.epoch, sha256: new Uint8Array(32), parameters: this.strategy.global.size } })
        .catch(() => undefined);
      this.ctx.events.emit('done', { version });
    });
  }

  private fail(e: Error): void {
    // The run cannot go on: no further tick may fail it again while the node stops.
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.ctx.log.log('error', 'aggregator.failed', { reason: e.message, code: (e as { code?: string }).code ?? null });
    this.ctx.events.emit('error', e);
  }

  status(): AggregatorStatus {
    const s = this.strategy;
    return {
      strategy: this.kind,
      round: this.epoch,
      version: s.version,
      rounds: this.ctx.run.rounds,
      received: this.received,
      cohort: s.expected,
      deadlineUnixMs: s.deadlineMs,
      done: this.done,
      lastMetrics: this.lastMetrics,
    };
  }

  /** Stops serving and timers; the log and checkpoints are already durable. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const s of this.stopServing) await s();
    this.preparing?.abort.abort();
    await this.preparing?.work;
    await this.evalChain;
    this.wal?.close();
    await this.evaluator?.close();
  }
}
