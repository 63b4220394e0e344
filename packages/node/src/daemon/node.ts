/**
 * `createNode(config)`: one fednode process's worth of roles (aggregator, trainer, or both)
 * on one libp2p host, for the `fednode start` command and for applications that embed
 * fednode. Start it, listen to its events, stop it. Identity, host, admission, gossip
 * control, logs, metrics, status and shutdown are the process shell's (runtime/shell.ts), the
 * same as for decentralised peers.
 */
import type { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { PrivateKey } from '@libp2p/interface';
import { NodeEvents, type NodeContext, type NodeEventMap } from './context.js';
import type { Logger } from '../runtime/log.js';
import { ShellNode, createProcessShell, type ProcessShell } from '../runtime/shell.js';
import { checkRunFile, loadRunFile, taskOf, type RunFile } from './run-file.js';
import { AggregatorRole } from './aggregator.js';
import { TrainerRole } from './trainer.js';
import { LocalLink, RemoteLink, peerOfAddress } from './link.js';
import { shareIndexOf } from './data-share.js';
import { trainerSlice } from './slices.js';
import type { NodeStatus } from '../runtime/status-protocol.js';
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


class FederatedNode extends ShellNode implements FedNode {
  constructor(
    shell: ProcessShell,
    readonly done: Promise<void>,
    private readonly events: NodeEvents,
  ) {
    super(shell);
  }

  on<K extends keyof NodeEventMap>(event: K, listener: (...args: NodeEventMap[K]) => void): this {
    (this.events as EventEmitter).on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof NodeEventMap>(event: K, listener: (...args: NodeEventMap[K]) => void): this {
    (this.events as EventEmitter).off(event, listener as (...args: unknown[]) => void);
    return this;
  }
}

/** Builds a node from its configuration; nothing listens until `start`. */
export function createNode(config: NodeConfig): FedNode {
  const loaded = typeof config.run === 'string' ? loadRunFile(config.run) : { run: checkRunFile(config.run, 'run'), baseDir: config.runDir ?? process.cwd() };
  const run = loaded.run;
  const fault = parseFault(config.fault);
  const events = new NodeEvents();
  const aggregatorAddr = config.aggregator ?? run.network?.aggregator ?? null;
  const wantsTrainer = config.role === 'trainer' || config.role === 'both';
  const wantsAggregator = config.role === 'aggregator' || config.role === 'both';
  // Round announcements are obeyed from the aggregator alone, so a trainer must know its peer id.
  if (config.role === 'trainer' && (aggregatorAddr === null || peerOfAddress(aggregatorAddr) === null)) {
    throw new DaemonError(
      'DAEMON_CONFIG',
      `a trainer needs the aggregator's peer id: set network.aggregator in the run file (a multiaddr ending /p2p/<id>, or the peer id alone with network.bootstrap) or pass --aggregator ADDR${aggregatorAddr === null ? '' : `; "${aggregatorAddr}" has no /p2p/<id>`}`,
    );
  }
  // A trainer dials its aggregator at start when it has its address (not only its peer id).
  const dial = aggregatorAddr !== null && aggregatorAddr.startsWith('/') && !wantsAggregator ? [aggregatorAddr] : [];
  const aggregatorPeer = aggregatorAddr === null ? null : peerOfAddress(aggregatorAddr);

  let aggregator: AggregatorRole | null = null;
  let trainer: TrainerRole | null = null;
  let link: RemoteLink | LocalLink | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let rolesDone = 0;
  const expectDone = (wantsAggregator ? 1 : 0) + (wantsTrainer ? 1 : 0);

  const shell = createProcessShell(
    {
      run,
      baseDir: loaded.baseDir,
      options: config,
      role: config.role,
      roles: config.role === 'both' ? ['aggregator', 'trainer'] : [config.role],
      dial,
      members: aggregatorPeer === null ? [] : [aggregatorPeer],
      // Only the aggregator opens rounds and announces versions: the one configured, or this node itself.
      ...(wantsAggregator ? { aggregator: 'self' } : aggregatorPeer === null ? {} : { aggregator: aggregatorPeer }),
    },
    {
      onControl(c, from) {
        // The shell's control channel has refused round openings and announcements not from the aggregator.
        if (trainer === null) return;
        if (c.body.kind === 'roundOpen') {
          trainer.onRoundOpen({ round: c.body.round, version: c.body.modelVersion, deadlineUnixMs: c.body.deadlineUnixMs === 0 ? null : c.body.deadlineUnixMs }, from);
        } else if (c.body.kind === 'modelAnnounce') {
          trainer.onModelAnnounce(c.body.version);
        }
      },
      async start({ host, peerId, admission, control, limits, timeoutMs }) {
        const ctx: NodeContext = { run, host, peerId, admission, limits, timeoutMs, log: shell.log, metrics: shell.metrics, events, control };
        const threads = run.threads ?? 1;
        events.on('done', () => {
          if (++rolesDone >= expectDone) resolveDone();
        });
        events.on('error', () => void shell.stop());
        if (wantsAggregator) {
          aggregator = new AggregatorRole(ctx, { dataDir: join(config.dataDir, 'aggregator'), threads, baseDir: loaded.baseDir, killAfterAcks: fault.killAfterAcks });
          await aggregator.start();
        }
        if (wantsTrainer) {
          const shard = shareIndexOf(run, peerId, config.shard, config.name);
          const slice = trainerSlice(run, taskOf(run), { peerId, name: config.name, capability: config.capability, share: shard });
          link = aggregator !== null ? new LocalLink(aggregator, peerId) : new RemoteLink(ctx, aggregatorAddr);
          const t = new TrainerRole(ctx, link, {
            dataDir: join(config.dataDir, 'trainer'),
            shard,
            slice,
            threads,
            pollMs: Math.round((run.limits?.pollS ?? 2) * 1000),
            killAfterPullRound: fault.killAfterPullRound,
          });
          trainer = t;
          if (aggregator !== null) {
            events.on('roundOpened', (r) => t.onRoundOpen(r, null));
            events.on('versionAnnounced', (v) => t.onModelAnnounce(v.version));
          }
          await t.start();
        }
        return {};
      },
      async stop() {
        await trainer?.stop().catch(() => undefined);
        await aggregator?.stop().catch(() => undefined);
      },
      status: () => ({
        ...(aggregator === null ? {} : { aggregator: aggregator.status() }),
        ...(trainer === null ? {} : { trainer: trainer.status() }),
      }),
    },
  );

  return new FederatedNode(shell, done, events);
}
