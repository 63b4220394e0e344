/**
 * `createPeerNode(config)`: one decentralised peer on one libp2p host, for `fednode start
 * --role peer` and for applications that embed a peer. No aggregator anywhere: the peer
 * serves its state to joiners on `/fednode/model/1` and synchronises on the run's sync topic.
 * Identity, host, admission, gossip control, logs, metrics, status and shutdown are the
 * process shell's (runtime/shell.ts), the same as for federated nodes.
 */
import type { EventEmitter } from 'node:events';
import type { PrivateKey } from '@libp2p/interface';
import type { Logger } from '../runtime/log.js';
import { ShellNode, createProcessShell, type ProcessShell } from '../runtime/shell.js';
import type { NodeStatus } from '../runtime/status-protocol.js';
import { DaemonError } from '../runtime/errors.js';
import { startingParams } from '../runtime/initial-model.js';
import { DemoAlgorithm, DilocoAlgorithm, type SyncAlgorithm } from './algorithms.js';
import { PeerTask } from './peer-task.js';
import { checkPeerRunFile, loadPeerRunFile, peerRoleSettings, type PeerRunFile } from './peer-run-file.js';
import type { PeerEvents, PeerRole, PeerStatus } from './peer-role.js';
import { wirePeer, type WiredPeer } from './wiring.js';

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


type Subscribe = (event: string, listener: (...args: unknown[]) => void) => void;

class DecentralisedPeer extends ShellNode implements PeerNode {
  constructor(
    shell: ProcessShell,
    readonly done: Promise<{ step: number; hash: string }>,
    // The role is made in start(): listeners given before that wait for it.
    private readonly subscribe: Subscribe,
  ) {
    super(shell);
  }

  on<K extends keyof PeerEvents>(event: K, listener: (...args: PeerEvents[K]) => void): this {
    this.subscribe(event, listener as unknown as (...args: unknown[]) => void);
    return this;
  }
}

export function createPeerNode(config: PeerNodeConfig): PeerNode {
  const loaded = typeof config.run === 'string' ? loadPeerRunFile(config.run) : { run: checkPeerRunFile(config.run, 'run'), baseDir: config.runDir ?? process.cwd() };
  const run = loaded.run;
  if (!Number.isInteger(config.shard) || config.shard < 0 || config.shard >= run.data.shares) {
    throw new DaemonError('DAEMON_CONFIG', `--shard ${config.shard} is not one of the run's ${run.data.shares} shares (0..${run.data.shares - 1})`);
  }
  const listeners: [string, (...args: unknown[]) => void][] = [];
  let role: PeerRole | null = null;
  let task: PeerTask | null = null;
  let wired: WiredPeer | null = null;
  let resolveDone!: (v: { step: number; hash: string }) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<{ step: number; hash: string }>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => undefined);

  const shell = createProcessShell(
    { run, baseDir: loaded.baseDir, options: config, role: 'peer', roles: ['peer'], dial: config.bootstrap },
    {
      onControl: (c, from) => role?.onControl(c, from),
      async start(net) {
        const t = await PeerTask.create(run, {
          shard: config.shard,
          inner: run.sync.algorithm === 'diloco' ? { weightDecay: run.sync.diloco?.weightDecay ?? 0.01 } : null,
          threads: run.threads ?? 1,
        });
        task = t;
        const start = startingParams(t.task, run.seed, run.initialModel, loaded.baseDir);
        const init = start.params;
        const algo: SyncAlgorithm = run.sync.algorithm === 'demo' ? new DemoAlgorithm(t, init, run) : new DilocoAlgorithm(t, init, run);
        const w = wirePeer(net, { settings: peerRoleSettings(run), algo, initial: init, evaluate: (p) => t.evaluate(p), addrs: () => [...shell.addrs], log: shell.log, metrics: shell.metrics });
        wired = w;
        const r = w.role;
        role = r;
        for (const [event, listener] of listeners) (r as EventEmitter).on(event, listener);
        r.on('done', (d) => resolveDone(d));
        r.on('error', (e) => {
          rejectDone(e);
          void shell.stop();
        });
        await w.start();
        return { algorithm: run.sync.algorithm, shard: config.shard, parameters: init.size, dense_bytes: algo.denseBytes, task: run.task.name, share: t.share.description, initial: start.source };
      },
      async stop() {
        await wired?.stop();
        await task?.close().catch(() => undefined);
      },
      status: () => (role === null ? {} : { peer: role.status() }),
    },
  );

  return new DecentralisedPeer(shell, done, (event, listener) => {
    if (role !== null) (role as EventEmitter).on(event, listener);
    else listeners.push([event, listener]);
  });
}
