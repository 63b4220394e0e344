/**
 * The decentralised peer: trains, gossips its contribution to each synchronisation step,
 * waits for the other members' contributions (or the timeout), applies the same
 * deterministic aggregation as everyone else, and publishes a parameter hash at
 * checkpoints. A peer that finds the run already going (or finds itself diverged) pulls the
 * current state from another peer over `/fednode/model/1` and joins at an announced step.
 */
import { ParamSet, type Control, type EncodedTensor, type Update } from '@fednode/core';
import { sha256 } from '../net/crypto.js';
import { NetError } from '../net/errors.js';
import { pullModel } from '../net/model-protocol.js';
import type { Admission } from '../net/admission.js';
import type { ControlChannel } from '../net/control.js';
import type { FedHost } from '../net/host.js';
import type { LogFields, Logger } from '../runtime/log.js';
import type { Metrics } from '../runtime/metric-series.js';
import type { PeerStatus } from '../runtime/status-protocol.js';

export type { PeerStatus };
import type { LocalState, SyncAlgorithm } from './algorithms.js';
import { EventEmitter } from './emitter.js';
import { Roster } from './roster.js';
import type { PeerRoleSettings } from './settings.js';
import type { SyncChannel } from './sync-channel.js';

export type { PeerRoleSettings };

export interface PeerRoleOptions extends PeerRoleSettings {
  readonly netTimeoutMs: number;
  readonly evaluate: (params: ParamSet) => Promise<{ loss: number; accuracy: number }>;
  /** Where we listen, sent in heartbeats so that peers connect to each other directly. */
  readonly addrs: () => string[];
  /** A peer's heartbeat with the addresses it listens on (the node dials the ones it is not connected to). */
  readonly onHeartbeat?: (peer: string, addrs: readonly string[]) => void;
  /**
   * A step that heard from none of the members it waited for means we were cut off, not that
   * they all left: re-join (keeping our own state) instead of stepping on alone. A page's
   * network comes and goes; a peer stepping alone would only diverge and finish a run of one.
   */
  readonly rejoinWhenCutOff?: boolean;
}

export interface PeerStepRecord {
  readonly step: number;
  readonly loss: number;
  readonly contributors: readonly string[];
  readonly dropped: readonly string[];
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly waitMs: number;
  readonly lr?: number;
}

export interface PeerEvents {
  step: [PeerStepRecord];
  hash: [{ readonly step: number; readonly hash: string; readonly agree: number; readonly disagree: number }];
  /** `local`: our own state before and after adopting the pulled one (equal when it was kept). */
  joined: [{ readonly step: number; readonly from: string; readonly rejoin: boolean; readonly local: { readonly before: LocalState; readonly after: LocalState } | null }];
  evaluated: [{ readonly step: number; readonly loss: number; readonly accuracy: number }];
  done: [{ readonly step: number; readonly hash: string }];
  error: [Error];
}


/** Steps a joiner announces ahead of the state it pulled, so every member hears of it before that step. */
const JOIN_MARGIN = 2;
const JOIN_LEAD_MS = 2000;
const HEARTBEAT_MS = 1000;
const MAX_LOGGED_CONTRIBUTORS = 16;

function paramsDigest(p: ParamSet): Buffer {
  return Buffer.from(sha256(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength)));
}

/** SHA-256 of the fp32 parameters in spec order, hex: what peers compare at checkpoints. */
export function paramsHash(p: ParamSet): string {
  return paramsDigest(p).toString('hex');
}

type Inbox = Map<string, { tensors: readonly EncodedTensor[]; bytes: number }>;

/**
 * Steps ahead of ours whose contributions we hold. Honest peers run at most a step or two
 * ahead (each step waits for the others); what a member sends for later steps is refused
 * before it costs memory, so each member costs at most this many contributions.
 */
export const FUTURE_STEPS_HELD = 16;

export class PeerRole extends EventEmitter<PeerEvents> {
  private step = 0;
  private state = 'starting';
  private readonly roster: Roster;
  private readonly inbox = new Map<number, Inbox>();
  /** Peers' latest heartbeat step (who is ahead of us, who runs at all). */
  private readonly progress = new Map<string, { step: number; atMs: number }>();
  private readonly hashes = new Map<number, Map<string, string>>();
  private readonly refusedAnnouncers = new Set<string>();
  private readonly ownHashes = new Map<number, string>();
  private wake: (() => void) | null = null;
  private stopped = false;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private last: PeerStepRecord | null = null;
  private lastHash: PeerStatus['lastHash'] = null;
  private heldOut: PeerStatus['heldOut'] = null;
  private sentTotal = 0;
  private receivedTotal = 0;
  private loop: Promise<void> | null = null;
  /** While catching up: the step we announced we join at (contributions for it must be kept). */
  private pendingJoin: number | null = null;

  constructor(
    private readonly host: FedHost,
    readonly peerId: string,
    private readonly algo: SyncAlgorithm,
    private readonly control: ControlChannel,
    private sync: SyncChannel | null,
    private readonly admission: Admission,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly o: PeerRoleOptions,
  ) {
    super();
    this.roster = new Roster(peerId);
  }

  /** Late binding: the sync channel needs the role's window and handler before it exists. */
  attach(sync: SyncChannel): void {
    this.sync = sync;
  }

  /** Steps whose contributions are kept on arrival. */
  window(): { low: number; high: number } {
    const low = this.pendingJoin ?? this.step;
    return { low, high: low + FUTURE_STEPS_HELD };
  }

  get currentStep(): number {
    return this.step;
  }

  onContribution(from: string, step: number, update: Update, bytes: number): void {
    const why = update.round !== step ? `update round ${update.round} is not step ${step}` : this.algo.problem(update.tensors);
    if (why !== null) {
      this.log.log('warn', 'sync.refused', { from, step, why });
      this.metrics.inc('fednode_sync_refused_total', 'Contributions refused (malformed, wrong layout or codec)');
      return;
    }
    if (step < this.step) {
      this.log.log('warn', 'sync.late', { from, step, at: this.step });
      this.metrics.inc('fednode_sync_late_total', 'Contributions that arrived after their step was applied');
      return;
    }
    let box = this.inbox.get(step);
    if (box === undefined) {
      box = new Map();
      this.inbox.set(step, box);
    }
    if (box.has(from)) return;
    box.set(from, { tensors: update.tensors, bytes });
    this.wake?.();
  }

  onControl(c: Control, from: string): void {
    const now = Date.now();
    const b = c.body;
    if (b.kind === 'heartbeat' && b.role === 'peer') {
      this.progress.set(from, { step: b.step, atMs: now });
      this.o.onHeartbeat?.(from, b.addrs ?? []);
    } else if (b.kind === 'peerJoin') {
      if (b.step < this.step) {
        this.log.log('warn', 'peer.join_too_late', { peer: from, step: b.step, at: this.step });
        return;
      }
      if (!this.roster.has(from)) this.log.log('info', 'peer.joining', { peer: from, step: b.step });
      this.roster.join(from, b.step);
      this.progress.set(from, { step: b.step, atMs: now });
      this.wake?.();
    } else if (b.kind === 'modelAnnounce') {
      const why = this.announceProblem(b.version);
      if (why !== null) {
        this.metrics.inc('fednode_sync_hash_refused_total', 'Parameter-hash announcements not kept (no checkpoint of this run, or out of reach)');
        // Once per sender, and only for what no honest peer sends: a peer catching up hears
        // checkpoints far ahead of it, and a member repeating itself would fill the log.
        if (!why.honest && !this.refusedAnnouncers.has(from)) {
          this.refusedAnnouncers.add(from);
          this.log.log('warn', 'hash.refused', { from, version: b.version, why: why.reason });
        }
        return;
      }
      let m = this.hashes.get(b.version);
      if (m === undefined) {
        m = new Map();
        this.hashes.set(b.version, m);
      }
      m.set(from, Buffer.from(b.sha256).toString('hex'));
      this.compareHashes(b.version);
    }
  }

  start(): void {
    this.heartbeat = setInterval(() => {
      void this.control.publish({ runId: this.o.runId, body: { kind: 'heartbeat', role: 'peer', version: this.step, step: this.step, timeUnixMs: Date.now(), addrs: this.o.addrs().slice(0, 16) } }).catch(() => undefined);
    }, HEARTBEAT_MS);
    this.loop = this.run().catch((e: Error) => {
      if (this.stopped) return;
      this.log.log('error', 'peer.failed', { error: e.message });
      this.emit('error', e);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.wake?.();
    await this.loop?.catch(() => undefined);
  }

  /** What the model protocol serves: our state at the step we are on, when not catching up ourselves. */
  provide(version: number | 'latest'): { version: number; round: number; params: ParamSet } | null {
    if (this.state === 'catching up' || this.state === 'starting') return null;
    if (version !== 'latest' && version !== this.step) return null;
    return { version: this.step, round: this.step, params: this.algo.snapshot() };
  }

  status(): PeerStatus {
    return {
      algorithm: this.algo.name,
      state: this.state,
      step: this.step,
      steps: this.o.steps,
      members: this.roster.all(),
      lastContributors: this.last?.contributors.length ?? 0,
      lastLoss: this.last?.loss ?? null,
      bytesSentPerStep: this.last?.bytesSent ?? null,
      bytesReceivedLastStep: this.last?.bytesReceived ?? null,
      denseBytesPerStep: this.algo.denseBytes,
      bytesSentTotal: this.sentTotal,
      bytesReceivedTotal: this.receivedTotal,
      lastHash: this.lastHash,
      heldOut: this.heldOut,
      pendingSyncBytes: this.sync?.pendingBytes() ?? 0,
    };
  }

  private async run(): Promise<void> {
    await this.begin();
    while (!this.stopped && this.step < this.o.steps) {
      const applied = await this.syncStep();
      if (this.stopped) return;
      if (!applied) {
        await this.catchUp('cut off from the other members', true);
        continue;
      }
      if (this.step % this.o.hashEvery === 0 || this.step === this.o.steps) await this.publishHash();
      if (this.o.evalEvery !== null && this.step % this.o.evalEvery === 0 && this.step < this.o.steps) await this.evaluate();
      if (this.needsResync()) await this.catchUp('diverged from the majority');
    }
    if (this.stopped) return;
    await this.evaluate();
    this.state = 'done';
    // The last step is always a checkpoint, so its hash is already known.
    const hash = this.ownHashes.get(this.step) ?? paramsHash(this.algo.params());
    this.log.log('info', 'peer.done', { step: this.step, hash });
    // Stay a while: late joiners may still pull, and the others compare our last hash.
    await this.sleep(this.o.lingerMs);
    this.emit('done', { step: this.step, hash });
  }

  /** Starts a new run with the others (step 0), or joins one already going. */
  private async begin(): Promise<void> {
    this.state = 'waiting for peers';
    const t0 = Date.now();
    this.roster.join(this.peerId, 0);
    for (;;) {
      if (this.stopped) return;
      const ahead = [...this.progress.values()].some((p) => p.step > 0);
      if (ahead) return this.catchUp('the run is in progress');
      // A join announcement that reached us proves a gossip path from that peer; peers need
      // not be connected directly (gossipsub forwards through the mesh).
      const atZero = this.roster.expected(0);
      if (atZero.length + 1 >= this.o.minPeers && (this.o.minPeers === 1 || this.sync!.peers().length > 0)) break;
      await this.control.publish({ runId: this.o.runId, body: { kind: 'peerJoin', step: 0 } }).catch(() => undefined);
      if (Date.now() - t0 > 5 * 60_000) throw new NetError('NET_TIMEOUT', `only ${atZero.length + 1} of ${this.o.minPeers} peers showed up in 5 minutes`);
      await this.sleep(300);
    }
    // Tell the stragglers once more, then give the mesh a moment to carry step 0.
    await this.control.publish({ runId: this.o.runId, body: { kind: 'peerJoin', step: 0 } }).catch(() => undefined);
    await this.sleep(300);
    this.state = 'training';
    this.log.log('info', 'peer.started', { members: this.roster.all(), step: 0 });
  }

  /** One synchronisation step: contribute, gather, apply. False when we were cut off and applied nothing. */
  private async syncStep(): Promise<boolean> {
    const step = this.step;
    const { tensors, loss } = await this.algo.contribute(step);
    if (this.stopped) return false;
    const update: Update = { runId: this.o.runId, sender: this.peerId, baseVersion: step, round: step, sequence: step, slice: { tensors: [] }, examples: 1, metrics: { loss }, tensors };
    const sent = await this.sync!.publish(step, update);
    this.sentTotal += sent;
    let box = this.inbox.get(step);
    if (box === undefined) {
      box = new Map();
      this.inbox.set(step, box);
    }
    box.set(this.peerId, { tensors, bytes: 0 });
    const waitStart = Date.now();
    const deadline = waitStart + this.o.timeoutMs;
    for (;;) {
      const missing = this.roster.expected(step).filter((p) => !box.has(p));
      if (missing.length === 0 || this.stopped) break;
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
    if (this.stopped) return false;
    const dropped = this.roster.expected(step).filter((p) => !box.has(p));
    if (this.o.rejoinWhenCutOff === true && dropped.length > 0 && box.size === 1) {
      // The others have dropped us by now and step on without us; they take us back at the step we announce.
      for (const p of dropped) this.roster.drop(p);
      this.inbox.delete(step);
      this.log.log('warn', 'peer.cut_off', { step, missing: dropped, waited_ms: Date.now() - waitStart });
      return false;
    }
    for (const p of dropped) {
      this.roster.drop(p);
      this.log.log('warn', 'peer.dropped', { peer: p, step, waited_ms: Date.now() - waitStart });
      this.metrics.inc('fednode_sync_dropped_total', 'Peers dropped after missing a step');
    }
    const now = Date.now();
    for (const p of box.keys()) if (!this.roster.has(p)) this.roster.join(p, step);
    const contributions = new Map([...box].map(([p, c]) => [p, c.tensors] as const));
    this.algo.apply(step, contributions);
    this.step = step + 1;
    this.inbox.delete(step);
    this.sync!.prune(this.step);
    const received = [...box.values()].reduce((n, c) => n + c.bytes, 0);
    this.receivedTotal += received;
    const rec: PeerStepRecord = { step, loss, contributors: [...box.keys()].sort(), dropped, bytesSent: sent, bytesReceived: received, waitMs: now - waitStart };
    this.last = rec;
    this.metrics.set('fednode_sync_step', 'Synchronisation steps applied', this.step);
    this.metrics.set('fednode_sync_contributors', 'Contributions aggregated at the last step', box.size);
    this.metrics.set('fednode_sync_bytes_sent_per_step', 'Bytes this peer published for the last step', sent);
    this.metrics.set('fednode_sync_bytes_received_per_step', 'Bytes of contributions received for the last step', received);
    this.metrics.set('fednode_sync_dense_bytes_per_step', 'Bytes a dense fp32 contribution would take', this.algo.denseBytes);
    this.metrics.inc('fednode_sync_bytes_sent_total', 'Bytes published on the sync topic', {}, sent);
    this.metrics.inc('fednode_sync_bytes_received_total', 'Bytes of contributions received', {}, received);
    this.metrics.set('fednode_sync_loss', 'Mean training loss of our last contribution', loss);
    // Who contributed, so a member that is counted by some peers and not others shows in the
    // logs; capped so that a step's line stays short in a run of many peers.
    const ids: LogFields = rec.contributors.length <= MAX_LOGGED_CONTRIBUTORS ? { contributor_ids: rec.contributors } : {};
    this.log.log('info', 'sync.step', { step, loss: Number(loss.toFixed(5)), contributors: rec.contributors.length, ...ids, bytes_sent: sent, bytes_received: received, wait_ms: rec.waitMs });
    this.emit('step', rec);
    return true;
  }

  private async publishHash(): Promise<void> {
    const p = this.algo.params();
    const digest = paramsDigest(p);
    this.ownHashes.set(this.step, digest.toString('hex'));
    this.log.log('info', 'peer.hash', { step: this.step, hash: digest.toString('hex') });
    await this.control
      .publish({ runId: this.o.runId, body: { kind: 'modelAnnounce', version: this.step, round: this.step, sha256: new Uint8Array(digest), parameters: p.size } })
      .catch((e: Error) => this.log.log('warn', 'hash.publish_failed', { error: e.message }));
    this.compareHashes(this.step);
    for (const s of [...this.ownHashes.keys()]) if (s < this.step - 10 * this.o.hashEvery) this.ownHashes.delete(s);
    for (const s of [...this.hashes.keys()]) if (s < this.step - 10 * this.o.hashEvery) this.hashes.delete(s);
  }

  /**
   * Why a hash announced for `version` is not kept: only checkpoints (every hashEvery steps,
   * and the last) within the steps whose hashes are kept or that honest peers can be ahead
   * by; a member announcing any other version would grow the table without bound.
   */
  private announceProblem(version: number): { reason: string; honest: boolean } | null {
    const { hashEvery, steps } = this.o;
    if (version > steps || (version % hashEvery !== 0 && version !== steps)) {
      return { reason: `step ${version} is no checkpoint of this run (every ${hashEvery} steps to ${steps})`, honest: false };
    }
    const low = this.step - 10 * hashEvery;
    const high = (this.pendingJoin ?? this.step) + FUTURE_STEPS_HELD;
    if (version < low || version > high) return { reason: `step ${version} is outside [${Math.max(0, low)}, ${high}]`, honest: true };
    return null;
  }

  private compareHashes(step: number): void {
    const own = this.ownHashes.get(step);
    const others = this.hashes.get(step);
    if (own === undefined) return;
    let agree = 0;
    let disagree = 0;
    for (const h of others?.values() ?? []) if (h === own) agree++;
    else disagree++;
    const prev = this.lastHash;
    this.lastHash = { step, hash: own, agree, disagree };
    this.metrics.set('fednode_sync_hash_agree', 'Peers whose hash matched ours at the last checkpoint', agree);
    this.metrics.set('fednode_sync_hash_disagree', 'Peers whose hash differed from ours at the last checkpoint', disagree);
    if (disagree > 0 && (prev === null || prev.step !== step || prev.disagree !== disagree)) {
      this.log.log('warn', 'hash.diverged', { step, ours: own.slice(0, 16), agree, disagree, peers: [...(others ?? [])].filter(([, h]) => h !== own).map(([p]) => p) });
    }
    this.emit('hash', this.lastHash);
  }

  /** True when most peers that reported our last checkpoint agree on a hash other than ours. */
  private needsResync(): boolean {
    const h = this.lastHash;
    if (h === null || h.disagree === 0) return false;
    const others = [...(this.hashes.get(h.step)?.values() ?? [])].filter((x) => x !== h.hash);
    const counts = new Map<string, number>();
    for (const x of others) counts.set(x, (counts.get(x) ?? 0) + 1);
    const best = Math.max(...counts.values());
    return best > h.agree + 1;
  }

  /** Pulls the current state from a peer that is ahead and joins a few steps later. */
  private async catchUp(reason: string, rejoin = false): Promise<void> {
    this.state = 'catching up';
    this.log.log('info', 'peer.catching_up', { reason, at: this.step });
    for (let attempt = 0; !this.stopped; attempt++) {
      const source = this.pickSource();
      if (source === null) {
        await this.sleep(500);
        continue;
      }
      try {
        // Two looks at the source's step give the run's pace; the join is announced far enough
        // ahead (about JOIN_LEAD_MS) that every member hears of it before reaching that step.
        const pull = (version: number | 'latest') => pullModel(this.host, source, { runId: this.o.runId, version, slice: null, codec: 'fp32' }, { timeoutMs: this.o.netTimeoutMs, admission: this.admission });
        const t1 = Date.now();
        const first = await pull('latest');
        await this.sleep(500);
        const latest = await pull('latest');
        const perMs = Math.max(0, latest.version - first.version) / Math.max(1, Date.now() - t1);
        const join = latest.version + Math.max(JOIN_MARGIN, Math.ceil(perMs * JOIN_LEAD_MS));
        if (join >= this.o.steps) throw new NetError('NET_REFUSED', `the run is at step ${latest.version} of ${this.o.steps}: too late to join`);
        this.pendingJoin = join;
        await this.control.publish({ runId: this.o.runId, body: { kind: 'peerJoin', step: join } });
        // Wait for the source to reach the join step, then take exactly that state.
        const until = Date.now() + this.o.timeoutMs * (JOIN_MARGIN + 2) + JOIN_LEAD_MS * 2;
        while (!this.stopped && Date.now() < until) {
          const p = this.progress.get(source);
          if (p !== undefined && p.step > join) break;
          try {
            const m = await pull(join);
            const want = ParamSet.zeros(this.algo.snapshotSpecs());
            if (!m.params.sameLayout(want)) throw new NetError('NET_PROTOCOL', `${source} served a state of another layout`);
            const before = this.algo.localState();
            this.algo.adopt(m.params, rejoin);
            const after = this.algo.localState();
            const local = before !== null && after !== null ? { before, after } : null;
            this.step = join;
            for (const s of [...this.inbox.keys()]) if (s < join) this.inbox.delete(s);
            this.roster.join(this.peerId, join);
            this.roster.join(source, 0);
            // Everyone heard from lately is a member we wait for; a dead one costs one timeout.
            for (const [peer, pr] of this.progress) if (peer !== source && peer !== this.peerId && Date.now() - pr.atMs < 3 * HEARTBEAT_MS) this.roster.join(peer, 0);
            this.state = 'training';
            this.pendingJoin = null;
            this.lastHash = null;
            this.log.log('info', 'peer.joined', { step: join, from: source, members: this.roster.all(), rejoin, ...(local === null ? {} : { local_kept: local.before.digest === local.after.digest, local_norm: Number(local.after.norm.toPrecision(6)) }) });
            this.emit('joined', { step: join, from: source, rejoin, local });
            return;
          } catch (e) {
            if (!(e instanceof NetError && e.code === 'NET_REFUSED')) throw e;
            await this.sleep(50);
          }
        }
        this.log.log('warn', 'peer.join_missed', { step: join, source });
      } catch (e) {
        this.log.log('warn', 'peer.catch_up_failed', { source, attempt, error: (e as Error).message });
        if (e instanceof NetError && /too late to join/.test(e.message)) throw e;
        await this.sleep(1000);
      }
    }
  }

  /** A live peer ahead of us: connected first, then the most advanced, then by id. */
  private pickSource(): string | null {
    const now = Date.now();
    // Gossip reaches us through the mesh, but we can only pull from a peer we can dial:
    // prefer those we are connected to.
    const connected = new Set(this.host.getConnections().map((c) => c.remotePeer.toString()));
    const live = [...this.progress].filter(([p, pr]) => p !== this.peerId && now - pr.atMs < 3 * HEARTBEAT_MS && pr.step > 0);
    live.sort((a, b) => Number(connected.has(b[0])) - Number(connected.has(a[0])) || b[1].step - a[1].step || (a[0] < b[0] ? -1 : 1));
    return live[0]?.[0] ?? null;
  }

  private async evaluate(): Promise<void> {
    const e = await this.o.evaluate(this.algo.params());
    this.heldOut = { step: this.step, loss: e.loss, accuracy: e.accuracy };
    this.metrics.set('fednode_sync_heldout_loss', 'Held-out loss at the last evaluation', e.loss);
    this.log.log('info', 'peer.evaluated', { step: this.step, loss: Number(e.loss.toFixed(5)), accuracy: Number(e.accuracy.toFixed(5)) });
    this.emit('evaluated', this.heldOut);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }
}
