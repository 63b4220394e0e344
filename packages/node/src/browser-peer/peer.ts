import { createWebExecutor, type Dataset } from '@fednode/core/browser';
import type { PrivateKey } from '@libp2p/interface';
import { NetError } from '../net/errors.js';
import { generateIdentity } from '../net/keys.js';
import { DemoAlgorithm, type LocalState } from '../peer/algorithms.js';
import { paramsHash, type PeerRole, type PeerStatus, type PeerStepRecord } from '../peer/peer-role.js';
import { wirePeer, type WiredPeer } from '../peer/wiring.js';
import type { LogFields, Logger, LogLevel } from '../runtime/log.js';
import { Metrics } from '../runtime/metric-series.js';
import { openRunNet, type RunNet } from '../runtime/run-net.js';
import { PageTask } from './page-task.js';
import type { PeerWebJoin } from './peer-join.js';

/**
 * A decentralised DeMo peer in a browser page: the daemon peer's role, DeMo synchronisation,
 * gossip sync channel, admission and wire code on a libp2p host that dials the run's peers
 * over WebSockets, training the page's rows on onnxruntime-web. It keeps nothing between
 * reloads: a reloaded page is a new member, which joins a run in progress as any late peer
 * does (it pulls the state from a peer and joins at an announced step). A page whose network
 * drops is not a new member: when a step hears from none of the others it stops stepping,
 * waits for the network, and re-joins the same way, keeping its DeMo momentum.
 */

export type BrowserPeerEvent =
  | { readonly kind: 'log'; readonly level: LogLevel; readonly event: string; readonly fields: LogFields }
  | { readonly kind: 'step'; readonly record: PeerStepRecord }
  | { readonly kind: 'hash'; readonly step: number; readonly hash: string; readonly agree: number; readonly disagree: number }
  | { readonly kind: 'joined'; readonly step: number; readonly from: string; readonly rejoin: boolean; readonly local: { readonly before: LocalState; readonly after: LocalState } | null }
  | { readonly kind: 'evaluated'; readonly step: number; readonly loss: number; readonly accuracy: number }
  | { readonly kind: 'done'; readonly step: number; readonly hash: string }
  | { readonly kind: 'error'; readonly message: string };

export interface BrowserPeerOptions {
  readonly join: PeerWebJoin;
  /** The run's pre-shared key, when `join.keyRequired`. */
  readonly psk?: string;
  /** The page's training rows (normalised as the run's dataset is), MNIST's 784 features. */
  readonly rows: Dataset;
  /** Held-out rows for the evaluations (default: the training rows). */
  readonly evalRows?: Dataset;
  /** Which of the run's shares the rows are (seeds the batch draw as a daemon peer's --shard does). */
  readonly shard?: number;
  /** Where onnxruntime-web's files are served (ending in '/'). */
  readonly wasmPaths: string;
  /** WASM threads (default: onnxruntime-web's choice). */
  readonly threads?: number;
  /** The peer identity; default a fresh one. */
  readonly privateKey?: PrivateKey;
  /** Least level of the log events passed on (default info). */
  readonly logLevel?: LogLevel;
  readonly onEvent?: (e: BrowserPeerEvent) => void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function eventLogger(o: BrowserPeerOptions): Logger {
  const min = ORDER[o.logLevel ?? 'info'];
  return {
    log: (level, event, fields = {}) => {
      if (ORDER[level] >= min) o.onEvent?.({ kind: 'log', level, event, fields });
    },
    close: () => undefined,
  };
}

export class BrowserPeer {
  /** Resolves with the last step and hash when the run is over; rejects when the peer fails. */
  readonly done: Promise<{ step: number; hash: string }>;
  private started = false;
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly net: RunNet,
    private readonly wired: WiredPeer,
    private readonly task: PageTask,
    done: Promise<{ step: number; hash: string }>,
  ) {
    this.done = done;
  }

  /** Joins the run's network and builds the peer; nothing trains before start(). */
  static async create(o: BrowserPeerOptions): Promise<BrowserPeer> {
    const j = o.join;
    if (j.keyRequired && (o.psk === undefined || o.psk === '')) throw new NetError('NET_CONFIG', `run ${j.runId} needs its pre-shared key`);
    if (o.rows.features !== 784) throw new NetError('NET_CONFIG', `the page's rows have ${o.rows.features} features; the MNIST MLP takes 784`);
    const executor = await createWebExecutor({ wasmPaths: o.wasmPaths, ...(o.threads === undefined ? {} : { numThreads: o.threads }) });
    const task = await PageTask.create({ model: j.model, seed: j.seed, batch: j.sync.batch, rows: o.rows, executor, ...(o.evalRows === undefined ? {} : { evalRows: o.evalRows }), ...(o.shard === undefined ? {} : { shard: o.shard }) });
    const initialHash = paramsHash(task.initial);
    if (initialHash !== j.initialHash) {
      await task.close();
      throw new NetError('NET_CONFIG', `the page derives initial parameters ${initialHash.slice(0, 16)}… where the run's peers derive ${j.initialHash.slice(0, 16)}…: it would diverge`);
    }
    const log = eventLogger(o);
    let role: PeerRole | null = null;
    let net: RunNet;
    try {
      net = await openRunNet({
        runId: j.runId,
        privateKey: o.privateKey ?? (await generateIdentity()),
        // A page dials out only.
        listen: [],
        bootstrap: j.bootstrap,
        psk: o.psk !== undefined && o.psk !== '' ? o.psk : undefined,
        allow: undefined,
        limits: j.limits,
        timeoutMs: j.timeoutMs,
        onControl: (c, from) => role?.onControl(c, from),
        onDropped: (from, why) => log.log('debug', 'gossip.dropped', { from, why }),
      });
    } catch (e) {
      await task.close();
      throw e;
    }
    const algo = new DemoAlgorithm(task, task.initial, j);
    const wired = wirePeer(net, { settings: j.settings, algo, initial: task.initial, evaluate: (p) => task.evaluate(p), addrs: () => [], log, metrics: new Metrics(), rejoinWhenCutOff: true });
    const r = wired.role;
    role = r;
    const emit = (e: BrowserPeerEvent): void => o.onEvent?.(e);
    r.on('step', (record) => emit({ kind: 'step', record }));
    r.on('hash', (h) => emit({ kind: 'hash', ...h }));
    r.on('joined', (x) => emit({ kind: 'joined', ...x }));
    r.on('evaluated', (x) => emit({ kind: 'evaluated', ...x }));
    const done = new Promise<{ step: number; hash: string }>((resolve, reject) => {
      r.on('done', (d) => {
        emit({ kind: 'done', ...d });
        resolve(d);
      });
      r.on('error', (e) => {
        emit({ kind: 'error', message: e.message });
        reject(e);
      });
    });
    done.catch(() => undefined);
    return new BrowserPeer(net, wired, task, done);
  }

  get peerId(): string {
    return this.net.peerId;
  }

  /** Starts training with the run's peers (or catching up with a run in progress). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.wired.start();
  }

  status(): PeerStatus {
    return this.wired.role.status();
  }

  /** Peers the page is connected to directly. */
  connections(): string[] {
    return [...new Set(this.net.host.getConnections().map((c) => c.remotePeer.toString()))];
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.wired.stop();
      await this.task.close().catch(() => undefined);
      await this.net.close();
    })();
    return this.stopping;
  }
}
