/**
 * `createNode(config)`: one fednode process's worth of roles (aggregator, trainer, or both)
 * on one libp2p host, for the `fednode start` command and for applications that embed
 * fednode. Start it, listen to its events, stop it.
 */
import '../net/polyfill.js';
import { mkdirSync } from 'node:fs';
import type { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { PrivateKey } from '@libp2p/interface';
import { Admission } from '../net/admission.js';
import { createHost, type FedHost } from '../net/host.js';
import { nodeIdentity, peerIdOf } from '../net/identity.js';
import { joinControl } from '../net/control.js';
import { NodeEvents, type NodeContext, type NodeEventMap } from './context.js';
import { jsonLogger, type Logger } from '../runtime/log.js';
import { Metrics, serveMetrics } from '../runtime/metrics.js';
import { checkRunFile, loadRunFile, readPsk, taskOf, timeoutMsOf, wireLimitsOf, type RunFile } from './run-file.js';
import { AggregatorRole } from './aggregator.js';
import { TrainerRole } from './trainer.js';
import { LocalLink, RemoteLink, peerOfAddress } from './link.js';
import { shareIndexOf } from './data-share.js';
import { trainerSlice } from './slices.js';
import { serveStatus, type NodeStatus } from '../runtime/status-protocol.js';
import { DaemonError } from '../runtime/errors.js';

export type NodeRole = 'aggregator' | 'trainer' | 'both';

export interface NodeConfig {
  /** The run: a parsed run file, or the path of one. */
  readonly run: RunFile | string;
  /** Where relative paths of a parsed run file resolve (default the working directory). */
  readonly runDir?: string;
  readonly role: NodeRole;
  /** Checkpoints, the write-ahead log, trainer state and (by default) the identity live here. */
  readonly dataDir: string;
  /** Multiaddrs to listen on (default the run file's network.listen, else a free port on 127.0.0.1). */
  readonly listen?: readonly string[];
  /** The identity: a key, or the path of an identity file; default `<dataDir>/identity.json`, created when missing. */
  readonly key?: PrivateKey | string;
  /** The trainer's data share (default the run file's data.assign for its peer id, then its name). */
  readonly shard?: number;
  /** The trainer's name: looked up under data.assign and slices.peers when its peer id is not there. */
  readonly name?: string;
  /** The trainer's capability, a name under the run file's slices.capabilities: which sub-network it trains. */
  readonly capability?: string;
  /** The aggregator's address, overriding the run file's network.aggregator. */
  readonly aggregator?: string;
  /** Serve Prometheus metrics on 127.0.0.1:port (0: a free port); absent: no endpoint. */
  readonly metricsPort?: number;
  /** Where logs go (default JSON lines on stderr). */
  readonly logger?: Logger;
  /** The environment the pre-shared key variable is read from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Fault injection for tests: `kill-after-ack:N` (aggregator) or `kill-after-pull:R` (trainer). */
  readonly fault?: string;
}

export interface FedNode {
  readonly peerId: string;
  /** Addresses the node listens on (with /p2p/<id>), once started. */
  readonly addrs: readonly string[];
  readonly metricsPort: number | null;
  /** Starts the host and the roles; resolves once they run. */
  start(): Promise<void>;
  /** Stops the roles and the host; safe to call more than once. */
  stop(): Promise<void>;
  status(): NodeStatus;
  /** Resolves when every role finished the run (the aggregator made the last version, the trainer saw it). */
  readonly done: Promise<void>;
  on<K extends keyof NodeEventMap>(event: K, listener: (...args: NodeEventMap[K]) => void): FedNode;
  off<K extends keyof NodeEventMap>(event: K, listener: (...args: NodeEventMap[K]) => void): FedNode;
}

function parseFault(fault: string | undefined): { killAfterAcks?: number; killAfterPullRound?: number } {
  if (fault === undefined || fault === '') return {};
  const m = /^(kill-after-ack|kill-after-pull):(\d+)$/.exec(fault);
  if (m === null) throw new DaemonError('DAEMON_CONFIG', `fault "${fault}" is not kill-after-ack:N or kill-after-pull:R`);
  return m[1] === 'kill-after-ack' ? { killAfterAcks: Number(m[2]) } : { killAfterPullRound: Number(m[2]) };
}


/** Builds a node from its configuration; nothing listens until `start`. */
export function createNode(config: NodeConfig): FedNode {
  const loaded = typeof config.run === 'string' ? loadRunFile(config.run) : { run: checkRunFile(config.run, 'run'), baseDir: config.runDir ?? process.cwd() };
  const run = loaded.run;
  const fault = parseFault(config.fault);
  const events = new NodeEvents();
  const metrics = new Metrics();
  const log = config.logger ?? jsonLogger();
  const aggregatorAddr = config.aggregator ?? run.network?.aggregator ?? null;
  const wantsTrainer = config.role === 'trainer' || config.role === 'both';
  const wantsAggregator = config.role === 'aggregator' || config.role === 'both';
  if (config.role === 'trainer' && aggregatorAddr === null && (run.network?.bootstrap ?? []).length === 0) {
    throw new DaemonError('DAEMON_CONFIG', 'a trainer needs the aggregator: set network.aggregator (or network.bootstrap) in the run file, or pass --aggregator ADDR');
  }
  const psk = readPsk(run, loaded.baseDir, config.env ?? process.env);

  let host: FedHost | null = null;
  let peerId = '';
  let ctx: NodeContext | null = null;
  let aggregator: AggregatorRole | null = null;
  let trainer: TrainerRole | null = null;
  let stopMetrics: (() => Promise<void>) | null = null;
  let stopStatus: (() => Promise<void>) | null = null;
  let metricsPort: number | null = null;
  let started = false;
  let stopping: Promise<void> | null = null;
  const startedAt = Date.now();

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let rolesDone = 0;
  const expectDone = (wantsAggregator ? 1 : 0) + (wantsTrainer ? 1 : 0);

  const node: FedNode = {
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
      (events as EventEmitter).on(event, listener as (...args: unknown[]) => void);
      return node;
    },
    off(event, listener) {
      (events as EventEmitter).off(event, listener as (...args: unknown[]) => void);
      return node;
    },
    async start() {
      if (started) return;
      started = true;
      mkdirSync(config.dataDir, { recursive: true });
      const key = await nodeIdentity(config.key, config.dataDir);
      peerId = peerIdOf(key);
      const allow = run.admission?.allow;
      const bootstrap = [...(run.network?.bootstrap ?? [])];
      if (aggregatorAddr !== null && aggregatorAddr.startsWith('/') && !wantsAggregator) bootstrap.push(aggregatorAddr);
      host = await createHost({
        privateKey: key,
        listen: config.listen ?? run.network?.listen ?? ['/ip4/127.0.0.1/tcp/0'],
        bootstrap,
        mdns: run.network?.mdns ?? false,
        dialTimeoutMs: Math.min(timeoutMsOf(run), 10_000),
      });
      const admission = new Admission(host, { allow: allow === undefined ? undefined : [...allow, peerId], psk }, { timeoutMs: Math.min(timeoutMsOf(run), 10_000) });
      await admission.start();
      const aggregatorPeer = aggregatorAddr === null ? null : peerOfAddress(aggregatorAddr);
      let link: RemoteLink | LocalLink | null = null;
      const control = joinControl(
        host,
        run.run,
        (c, from) => {
          if (trainer === null) return;
          if (c.body.kind === 'roundOpen') {
            if (link instanceof RemoteLink) link.learn(from);
            trainer.onRoundOpen({ round: c.body.round, version: c.body.modelVersion, deadlineUnixMs: c.body.deadlineUnixMs === 0 ? null : c.body.deadlineUnixMs }, from);
          } else if (c.body.kind === 'modelAnnounce' && (aggregatorPeer === null || from === aggregatorPeer)) {
            trainer.onModelAnnounce(c.body.version);
          }
        },
        {
          limits: wireLimitsOf(run),
          acceptFrom: allow === undefined || allow.length === 0 ? undefined : (author) => author === peerId || allow.includes(author),
          onDropped: (from, why) => log.log('debug', 'gossip.dropped', { from, why }),
        },
      );
      ctx = { run, host, peerId, admission, limits: wireLimitsOf(run), timeoutMs: timeoutMsOf(run), log, metrics, events, control };
      const threads = run.threads ?? 1;
      events.on('done', () => {
        if (++rolesDone >= expectDone) resolveDone();
      });
      events.on('error', () => void node.stop());
      try {
        if (wantsAggregator) {
          aggregator = new AggregatorRole(ctx, { dataDir: join(config.dataDir, 'aggregator'), threads, killAfterAcks: fault.killAfterAcks });
          await aggregator.start();
        }
        if (wantsTrainer) {
          const shard = shareIndexOf(run, peerId, config.shard, config.name);
          const slice = trainerSlice(run, taskOf(run), { peerId, name: config.name, capability: config.capability, share: shard });
          link = aggregator !== null ? new LocalLink(aggregator, peerId) : new RemoteLink(ctx, aggregatorAddr);
          trainer = new TrainerRole(ctx, link, {
            dataDir: join(config.dataDir, 'trainer'),
            shard,
            slice,
            threads,
            pollMs: Math.round((run.limits?.pollS ?? 2) * 1000),
            killAfterPullRound: fault.killAfterPullRound,
          });
          if (aggregator !== null) {
            const t = trainer;
            events.on('roundOpened', (r) => t.onRoundOpen(r, null));
            events.on('versionAnnounced', (v) => t.onModelAnnounce(v.version));
          }
          await trainer.start();
        }
        stopStatus = await serveStatus(host, () => node.status(), ctx.timeoutMs);
        if (config.metricsPort !== undefined) {
          const m = await serveMetrics(metrics, config.metricsPort);
          metricsPort = m.port;
          stopMetrics = m.close;
        }
      } catch (e) {
        await node.stop();
        throw e;
      }
      log.log('info', 'node.started', { peer: peerId, role: config.role, run: run.run, addrs: node.addrs as string[], metrics_port: metricsPort });
    },
    stop() {
      stopping ??= (async () => {
        await trainer?.stop().catch(() => undefined);
        await aggregator?.stop().catch(() => undefined);
        await stopStatus?.().catch(() => undefined);
        await stopMetrics?.().catch(() => undefined);
        ctx?.control.leave();
        await ctx?.admission.stop().catch(() => undefined);
        if (host !== null) await Promise.resolve(host.stop()).catch(() => undefined);
        log.log('info', 'node.stopped', { peer: peerId });
      })();
      return stopping;
    },
    status(): NodeStatus {
      const roles = config.role === 'both' ? ['aggregator', 'trainer'] : [config.role];
      return {
        runId: run.run,
        peerId,
        roles,
        addrs: node.addrs,
        peers: host === null ? [] : [...new Set(host.getConnections().map((c) => c.remotePeer.toString()))],
        uptimeS: Math.round((Date.now() - startedAt) / 1000),
        ...(aggregator === null ? {} : { aggregator: aggregator.status() }),
        ...(trainer === null ? {} : { trainer: trainer.status() }),
      };
    },
  };
  return node;
}
