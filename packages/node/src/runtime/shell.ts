/**
 * The process shell every fednode node runs in, whatever its roles: the federated aggregator
 * and trainer (`createNode`) and the decentralised peer (`createPeerNode`). A process has one
 * identity, one libp2p host, one admission policy, one gossip control channel for its run,
 * one logger, one set of metrics with its endpoint, one status answer and one shutdown. The
 * shell owns all of them, so the runtimes cannot drift apart in how they admit peers, what
 * they log or in which order they close. The roles plug in: they start once the host,
 * admission and gossip run, and stop before any of those close.
 */
import '../net/polyfill.js';
import { mkdirSync } from 'node:fs';
import type { PrivateKey } from '@libp2p/interface';
import type { Control, WireLimits } from '@fednode/core';
import { nodeIdentity, peerIdOf } from '../net/identity.js';
import { jsonLogger, type LogFields, type Logger } from './log.js';
import { Metrics, serveMetrics } from './metrics.js';
import { readPsk, wireLimitsFrom, type AdmissionSection, admissionSection } from './run-sections.js';
import { serveStatus, type NodeStatus } from './status-protocol.js';
import { openRunNet, type RunNet, type ShellNet } from './run-net.js';

export type { ShellNet };

/** The sections of the status answer that belong to the roles. */
export type RoleStatus = Pick<NodeStatus, 'aggregator' | 'trainer' | 'peer'>;

/** The sections of a run document, federated or decentralised, that make its process. */
export interface ProcessSections {
  readonly run: string;
  readonly network?: { readonly listen?: readonly string[]; readonly bootstrap?: readonly string[]; readonly mdns?: boolean };
  readonly admission?: AdmissionSection | 'open';
  /** `timeoutS`: the longest wait for one network step, seconds (default 30). */
  readonly limits?: { readonly wire?: Partial<WireLimits>; readonly timeoutS?: number };
}

/** What a node's configuration says about its process; `NodeConfig` and `PeerNodeConfig` both have it. */
export interface ProcessOptions {
  /** Created when missing; holds the identity unless `key` says otherwise. */
  readonly dataDir: string;
  /** The identity: a key, or the path of an identity file; default `<dataDir>/identity.json`, created when missing. */
  readonly key?: PrivateKey | string;
  /** Multiaddrs to listen on (default the run's network.listen, else a free port on 127.0.0.1). */
  readonly listen?: readonly string[];
  /** Serve Prometheus metrics on 127.0.0.1:port (0: a free port); absent: no endpoint. */
  readonly metricsPort?: number;
  /** Where logs go (default JSON lines on stderr). */
  readonly logger?: Logger;
  /** Where `admission.psk.env` is read (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ShellConfig {
  readonly run: ProcessSections;
  /** Where a relative `admission.psk.file` resolves (the run document's directory). */
  readonly baseDir: string;
  readonly options: ProcessOptions;
  /** The role as the `node.started` line names it (`both` for an aggregator with a trainer). */
  readonly role: string;
  /** The roles the status answer lists. */
  readonly roles: readonly string[];
  /** Multiaddrs (with /p2p/<id>) dialled at start besides the run's network.bootstrap. */
  readonly dial?: readonly string[];
  /** Peer ids this node counts as members besides the allowlist: a trainer's configured aggregator. */
  readonly members?: readonly string[];
  /**
   * The run's aggregator (a trainer's configured peer id, or `self` on the aggregator): round
   * openings and model announcements on the control topic are taken from it alone, and refused
   * before gossip relays them. Absent: any member may send them (decentralised peers announce).
   */
  readonly aggregator?: string;
}

/** Control messages only a federated run's aggregator sends. */
const AGGREGATOR_KINDS: readonly Control['body']['kind'][] = ['roundOpen', 'modelAnnounce'];

/** The roles a shell runs: the only part in which the federated and decentralised nodes differ. */
export interface ShellRoles {
  /** Builds and starts the roles; resolves to what the `node.started` line adds about them. */
  start(net: ShellNet): Promise<LogFields>;
  /** Stops whatever `start` built, also after it failed halfway; the shell closes nothing before it returns. */
  stop(): Promise<void>;
  /** Each valid control message of the run, with its author; may arrive before `start` resolved. */
  onControl(control: Control, from: string): void;
  status(): RoleStatus;
}

export interface ProcessShell {
  /** '' until started. */
  readonly peerId: string;
  /** Addresses the host listens on (with /p2p/<id>); none until started. */
  readonly addrs: readonly string[];
  readonly metricsPort: number | null;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Starts the host, admission, gossip, the roles, then status and metrics; a failure stops what started and rethrows. */
  start(): Promise<void>;
  /** Stops the roles, then status, metrics, gossip, admission and the host; safe to call more than once. */
  stop(): Promise<void>;
  status(): NodeStatus;
}

/**
 * The face a node shows from its shell: who it is, where it listens, its metrics port, start,
 * stop and status. `createNode` and `createPeerNode` add their events and `done`.
 */
export class ShellNode {
  constructor(protected readonly shell: ProcessShell) {}

  get peerId(): string {
    return this.shell.peerId;
  }

  get addrs(): readonly string[] {
    return this.shell.addrs;
  }

  get metricsPort(): number | null {
    return this.shell.metricsPort;
  }

  start(): Promise<void> {
    return this.shell.start();
  }

  stop(): Promise<void> {
    return this.shell.stop();
  }

  status(): NodeStatus {
    return this.shell.status();
  }
}

/**
 * Builds a shell; nothing listens until `start`. The pre-shared key is read here, so a run
 * document naming a key that cannot be read fails when the node is made, not later.
 */
export function createProcessShell(config: ShellConfig, roles: ShellRoles): ProcessShell {
  const { run, options } = config;
  const psk = readPsk(run, config.baseDir, options.env ?? process.env);
  const allow = admissionSection(run.admission).allow;
  const limits = wireLimitsFrom(run.limits);
  const timeoutMs = Math.round((run.limits?.timeoutS ?? 30) * 1000);
  const bootstrap = [...(run.network?.bootstrap ?? []), ...(config.dial ?? [])];
  const log = options.logger ?? jsonLogger();
  const metrics = new Metrics();
  const startedAt = Date.now();
  let net: RunNet | null = null;
  let peerId = '';
  let metricsPort: number | null = null;
  let closers: (() => Promise<void>)[] = [];
  let started = false;
  let stopping: Promise<void> | null = null;

  const shell: ProcessShell = {
    get peerId() {
      return peerId;
    },
    get addrs() {
      return net === null ? [] : net.host.getMultiaddrs().map((m) => m.toString());
    },
    get metricsPort() {
      return metricsPort;
    },
    log,
    metrics,
    async start() {
      if (started) return;
      started = true;
      try {
        mkdirSync(options.dataDir, { recursive: true });
        const key = await nodeIdentity(options.key, options.dataDir);
        peerId = peerIdOf(key);
        const n = await openRunNet({
          runId: run.run,
          privateKey: key,
          listen: options.listen ?? run.network?.listen ?? ['/ip4/127.0.0.1/tcp/0'],
          bootstrap,
          mdns: run.network?.mdns ?? false,
          psk,
          allow,
          members: config.members ?? [],
          limits,
          timeoutMs,
          ...(config.aggregator === undefined ? {} : { mayAuthor: mayAuthorFor(config.aggregator === 'self' ? peerId : config.aggregator) }),
          onControl: (msg, from) => roles.onControl(msg, from),
          onDropped: (from, why) => log.log('debug', 'gossip.dropped', { from, why }),
        });
        net = n;
        const roleFields = await roles.start(n);
        closers.push(await serveStatus(n.host, () => shell.status(), timeoutMs, n.admission));
        if (options.metricsPort !== undefined) {
          const m = await serveMetrics(metrics, options.metricsPort);
          metricsPort = m.port;
          closers.push(m.close);
        }
        log.log('info', 'node.started', { peer: peerId, role: config.role, run: run.run, ...roleFields, addrs: [...shell.addrs], metrics_port: metricsPort });
      } catch (e) {
        await shell.stop();
        throw e;
      }
    },
    stop() {
      stopping ??= (async () => {
        await roles.stop().catch(() => undefined);
        for (const close of closers) await close().catch(() => undefined);
        closers = [];
        await net?.close();
        log.log('info', 'node.stopped', { peer: peerId });
      })();
      return stopping;
    },
    status(): NodeStatus {
      return {
        runId: run.run,
        peerId,
        roles: config.roles,
        addrs: shell.addrs,
        peers: net === null ? [] : [...new Set(net.host.getConnections().map((c) => c.remotePeer.toString()))],
        uptimeS: Math.round((Date.now() - startedAt) / 1000),
        memory: memoryNow(),
        ...roles.status(),
      };
    },
  };
  return shell;
}

function memoryNow(): NodeStatus['memory'] {
  const m = process.memoryUsage();
  return { heapUsedBytes: m.heapUsed, externalBytes: m.external, rssBytes: m.rss };
}

function mayAuthorFor(aggregator: string): (kind: Control['body']['kind'], author: string) => boolean {
  return (kind, author) => !AGGREGATOR_KINDS.includes(kind) || author === aggregator;
}
