/**
 * `createPeerNode(config)`: one decentralised peer on one libp2p host, for `fednode start
 * --role peer` and for applications that embed a peer. No aggregator anywhere: the peer
 * serves its state to joiners on `/fednode/model/1`, its status on `/fednode/status/1`, and
 * metrics on an opt-in local port.
 */
import '../net/polyfill.js';
import { mkdirSync } from 'node:fs';
import type { EventEmitter } from 'node:events';
import type { PrivateKey } from '@libp2p/interface';
import { Admission } from '../net/admission.js';
import { createHost, type FedHost } from '../net/host.js';
import { nodeIdentity, peerIdOf } from '../net/identity.js';
import { joinControl, type ControlChannel } from '../net/control.js';
import { serveModels } from '../net/model-protocol.js';
import { jsonLogger, type Logger } from '../runtime/log.js';
import { Metrics, serveMetrics } from '../runtime/metrics.js';
import { readPsk } from '../runtime/run-sections.js';
import { serveStatus, type NodeStatus } from '../runtime/status-protocol.js';
import { DaemonError } from '../runtime/errors.js';
import { DemoAlgorithm, DilocoAlgorithm, type SyncAlgorithm } from './algorithms.js';
import { PeerTask } from './peer-task.js';
import { checkPeerRunFile, loadPeerRunFile, peerWireLimits, syncSteps, type PeerRunFile } from './peer-run-file.js';
import { PeerRole, type PeerEvents, type PeerStatus } from './peer-role.js';
import { joinSync, type SyncChannel } from './sync-channel.js';
import { PeerLinks } from './links.js';

export interface PeerNodeConfig {
  readonly run: PeerRunFile | string;
  readonly runDir?: string;
  /** Which share of the speakers this peer trains on (0 .. data.shares − 1). */
  readonly shard: number;
  readonly dataDir: string;
  readonly listen?: readonly string[];
  readonly bootstrap?: readonly string[];
  readonly key?: PrivateKey | string;
  readonly metricsPort?: number;
  readonly logger?: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

export interface PeerNode {
  readonly peerId: string;
  readonly addrs: readonly string[];
  readonly metricsPort: number | null;
  readonly done: Promise<{ step: number; hash: string }>;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): NodeStatus & { peer?: PeerStatus };
  on<K extends keyof PeerEvents>(event: K, listener: (...args: PeerEvents[K]) => void): PeerNode;
}


export function createPeerNode(config: PeerNodeConfig): PeerNode {
  const loaded = typeof config.run === 'string' ? loadPeerRunFile(config.run) : { run: checkPeerRunFile(config.run, 'run'), baseDir: config.runDir ?? process.cwd() };
  const run = loaded.run;
  if (!Number.isInteger(config.shard) || config.shard < 0 || config.shard >= run.data.shares) {
    throw new DaemonError('DAEMON_CONFIG', `--shard ${config.shard} is not one of the run's ${run.data.shares} shares (0..${run.data.shares - 1})`);
  }
  const psk = readPsk(run, loaded.baseDir, config.env ?? process.env);
  const log = config.logger ?? jsonLogger();
  const metrics = new Metrics();
  const limits = peerWireLimits(run);
  const netTimeoutMs = Math.round((run.limits?.timeoutS ?? 30) * 1000);
  const listeners: [string, (...args: unknown[]) => void][] = [];
  let host: FedHost | null = null;
  let peerId = '';
  let role: PeerRole | null = null;
  let task: PeerTask | null = null;
  let control: ControlChannel | null = null;
  let sync: SyncChannel | null = null;
  let admission: Admission | null = null;
  let stops: (() => Promise<void>)[] = [];
  let links!: PeerLinks;
  let metricsPort: number | null = null;
  let stopping: Promise<void> | null = null;
  const startedAt = Date.now();
  let resolveDone!: (v: { step: number; hash: string }) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<{ step: number; hash: string }>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => undefined);

  const node: PeerNode = {
    get peerId() {
      return peerId;
    },
    get addrs() {
      return host === null ? [] : host.getMultiaddrs().map((m) => m.toString());
    },
    get metricsPort() {
      return metricsPort;
    },
    done,
    on(event, listener) {
      const l = listener as unknown as (...args: unknown[]) => void;
      if (role !== null) (role as EventEmitter).on(event, l);
      else listeners.push([event, l]);
      return node;
    },
    async start() {
      mkdirSync(config.dataDir, { recursive: true });
      const key = await nodeIdentity(config.key, config.dataDir);
      peerId = peerIdOf(key);
      const allow = run.admission?.allow;
      host = await createHost({
        privateKey: key,
        listen: config.listen ?? run.network?.listen ?? ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [...(run.network?.bootstrap ?? []), ...(config.bootstrap ?? [])],
        mdns: run.network?.mdns ?? false,
        dialTimeoutMs: Math.min(netTimeoutMs, 10_000),
      });
      links = new PeerLinks(host, [...(run.network?.bootstrap ?? []), ...(config.bootstrap ?? [])], log);
      admission = new Admission(host, { allow: allow === undefined ? undefined : [...allow, peerId], psk }, { timeoutMs: Math.min(netTimeoutMs, 10_000) });
      await admission.start();
      const accept = allow === undefined || allow.length === 0 ? undefined : (author: string) => author === peerId || allow.includes(author);
      task = await PeerTask.create(run, {
        shard: config.shard,
        inner: run.sync.algorithm === 'diloco' ? { weightDecay: run.sync.diloco?.weightDecay ?? 0.01 } : null,
        threads: run.threads ?? 1,
      });
      const init = task.task.initialParams(run.seed);
      const t = task;
      const algo: SyncAlgorithm = run.sync.algorithm === 'demo' ? new DemoAlgorithm(t, init, run) : new DilocoAlgorithm(t, init, run);
      control = joinControl(host, run.run, (c, from) => role?.onControl(c, from), {
        limits,
        acceptFrom: accept,
        onDropped: (from, why) => log.log('debug', 'gossip.dropped', { from, why }),
      });
      role = new PeerRole(host, peerId, algo, control, null, admission, log, metrics, {
        runId: run.run,
        steps: syncSteps(run),
        timeoutMs: Math.round((run.sync.timeoutS ?? 10) * 1000),
        minPeers: run.sync.minPeers ?? 1,
        hashEvery: run.sync.hashEvery ?? 10,
        evalEvery: run.sync.evalEvery ?? null,
        lingerMs: Math.round((run.limits?.lingerS ?? 3) * 1000),
        netTimeoutMs,
        evaluate: (p) => t.evaluate(p),
        addrs: () => node.addrs as string[],
        onHeartbeat: (peer, addrs) => links.heard(peer, addrs),
      });
      const r = role;
      sync = joinSync(host, run.run, {
        limits,
        acceptFrom: accept,
        window: () => r.window(),
        onContribution: (from, step, update, bytes) => r.onContribution(from, step, update, bytes),
        onDropped: (from, why) => log.log('debug', 'sync.dropped', { from, why }),
      });
      role.attach(sync);
      for (const [event, listener] of listeners) (role as EventEmitter).on(event, listener);
      role.on('done', (d) => resolveDone(d));
      role.on('error', (e) => {
        rejectDone(e);
        void node.stop();
      });
      stops.push(
        await serveModels(host, {
          limits,
          timeoutMs: netTimeoutMs,
          admission,
          provide: (req) => r.provide(req.version),
        }),
      );
      stops.push(await serveStatus(host, () => node.status(), netTimeoutMs));
      if (config.metricsPort !== undefined) {
        const m = await serveMetrics(metrics, config.metricsPort);
        metricsPort = m.port;
        stops.push(m.close);
      }
      links.start();
      stops.push(async () => links.stop());
      role.start();
      log.log('info', 'node.started', { peer: peerId, role: 'peer', run: run.run, algorithm: run.sync.algorithm, shard: config.shard, parameters: init.size, dense_bytes: algo.denseBytes, task: run.task.name, share: t.share.description, addrs: node.addrs as string[], metrics_port: metricsPort });
    },
    stop() {
      stopping ??= (async () => {
        await role?.stop().catch(() => undefined);
        for (const s of stops) await s().catch(() => undefined);
        stops = [];
        sync?.leave();
        control?.leave();
        await admission?.stop().catch(() => undefined);
        if (host !== null) await Promise.resolve(host.stop()).catch(() => undefined);
        await task?.close().catch(() => undefined);
        log.log('info', 'node.stopped', { peer: peerId });
      })();
      return stopping;
    },
    status() {
      return {
        runId: run.run,
        peerId,
        roles: ['peer'],
        addrs: node.addrs,
        peers: host === null ? [] : [...new Set(host.getConnections().map((c) => c.remotePeer.toString()))],
        uptimeS: Math.round((Date.now() - startedAt) / 1000),
        ...(role === null ? {} : { peer: role.status() }),
      };
    },
  };
  return node;
}
