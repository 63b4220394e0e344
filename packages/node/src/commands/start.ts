import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createNode, type FedNode, type NodeRole } from '../daemon/node.js';
import type { RunFile } from '../daemon/run-file.js';
import { createPeerNode, type PeerNode } from '../peer/peer-node.js';
import type { PeerRunFile } from '../peer/peer-run-file.js';
import { DaemonError } from '../runtime/errors.js';
import { jsonLogger, type Logger } from '../runtime/log.js';
import { loadRunDocument } from '../run-document.js';
import type { StartFlags } from './start-flags.js';

export type { StartFlags };

/**
 * `fednode start --config RUN.yaml --role aggregator|trainer|both|peer`: runs one node until
 * its run completes (exit 0), a signal stops it (SIGINT/SIGTERM: clean shutdown, exit 0), or
 * it fails (one line on stderr, exit 1). Logs are JSON lines on stderr or --log FILE; on a
 * terminal a progress line on stdout follows the run, elsewhere one JSON line on stdout gives
 * the peer id, addresses and metrics port. Every role runs through `runNode`; a role differs
 * only in how its node is made (`federated`, `decentralised`) and what its progress line says.
 */

function shardIndex(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a non-negative integer.');
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) throw new InvalidArgumentError('must be a port from 0 to 65535.');
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Test builds only: a fault to inject (see `NodeConfig.fault`); the installed CLI never sets it. */
export interface StartOptions {
  readonly fault?: string;
}

export function startCommand(options: StartOptions = {}): Command {
  return new Command('start')
    .description('run a fednode daemon (aggregator, trainer, both, or a decentralised peer) for a run file')
    .requiredOption('--config <file>', 'the run file (YAML)')
    .addOption(new Option('--role <role>', 'what this process does').choices(['aggregator', 'trainer', 'both', 'peer']).makeOptionMandatory())
    .option('--data-dir <dir>', 'checkpoints, write-ahead log, trainer state and identity (default .fednode/<run>/<role>)')
    .option('--listen <addr>', 'multiaddr to listen on (repeatable; default a free port on 127.0.0.1)', collect)
    .option('--key <file>', 'identity file from `fednode keygen` (default <data-dir>/identity.json, created when missing)')
    .option('--shard <i>', "the trainer's data share (default the run file's data.assign for its peer id or --name)", shardIndex)
    .option('--name <name>', "the trainer's name, looked up under data.assign and slices.peers when its peer id is not listed")
    .option('--capability <name>', 'what this trainer can train: a name under the run file\'s slices.capabilities (e.g. small: a width-0.5 sub-network)')
    .option('--aggregator <addr>', "the aggregator's multiaddr (overrides network.aggregator)")
    .option('--bootstrap <addr>', 'a peer to dial at start, with /p2p/<id> (repeatable; added to network.bootstrap)', collect)
    .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:PORT/metrics', port)
    .option('--log <file>', 'append JSON-line logs to this file instead of stderr')
    .addOption(new Option('--log-level <level>', 'least severe level logged').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .action(async (flags: StartFlags) => {
      const doc = loadRunDocument(flags.config);
      if (doc.mode === 'decentralised') return runNode(decentralised(flags, doc.run, doc.baseDir), flags);
      if (flags.role === 'peer') throw new DaemonError('DAEMON_CONFIG', `${flags.config} is a federated run (no mode: decentralised): start it with --role aggregator, trainer or both`);
      return runNode(federated(flags, flags.role, doc.run, doc.baseDir, options.fault), flags);
    });
}

/** What `runNode` needs of a node, whichever runtime made it. */
interface RunningNode {
  readonly node: Pick<FedNode, 'peerId' | 'addrs' | 'metricsPort' | 'start' | 'stop'>;
  /** Resolves when the run is over for this node; rejects with the failure that stopped it. */
  readonly finished: Promise<void>;
  /** The text of the progress line. */
  progress(): string;
}

/** How one kind of run document makes its node. */
interface NodePlan {
  readonly runId: string;
  /** The data directory's default name under `.fednode/<run>/`. */
  readonly dirName: string;
  make(dataDir: string, logger: Logger): RunningNode;
}

function federated(flags: StartFlags, role: NodeRole, run: RunFile, baseDir: string, fault: string | undefined): NodePlan {
  return {
    runId: run.run,
    dirName: role,
    make(dataDir, logger) {
      const node = createNode({
        run,
        runDir: baseDir,
        role,
        dataDir,
        listen: flags.listen,
        key: flags.key,
        shard: flags.shard,
        name: flags.name,
        capability: flags.capability,
        aggregator: flags.aggregator,
        metricsPort: flags.metricsPort,
        logger,
        fault,
      });
      // The aggregator lingers after the last version so trainers can hear of it.
      const lingerMs = role === 'trainer' ? 0 : Math.round((run.limits?.lingerS ?? 3) * 1000);
      const finished = new Promise<void>((resolveFinished, reject) => {
        node.on('error', reject);
        void node.done.then(() => setTimeout(resolveFinished, lingerMs));
      });
      return { node, finished, progress: () => federatedProgress(node, run.rounds) };
    },
  };
}

function decentralised(flags: StartFlags, run: PeerRunFile, baseDir: string): NodePlan {
  if (flags.role !== 'peer') throw new DaemonError('DAEMON_CONFIG', `${flags.config} is a decentralised run (mode: decentralised): it has no ${flags.role}; start it with --role peer`);
  const shard = flags.shard;
  if (shard === undefined) throw new DaemonError('DAEMON_CONFIG', `a peer needs --shard (0..${run.data.shares - 1}): which share of the speakers it trains on`);
  return {
    runId: run.run,
    // Several peers of one run often share a machine: each keeps its own directory.
    dirName: `peer-${shard}`,
    make(dataDir, logger) {
      const node = createPeerNode({ run, runDir: baseDir, shard, dataDir, listen: flags.listen, bootstrap: flags.bootstrap, key: flags.key, metricsPort: flags.metricsPort, logger });
      return { node, finished: node.done.then(() => undefined), progress: () => peerProgress(node) };
    },
  };
}

/** Runs a node until its run is over, a signal or a failure; stops it cleanly in every case. */
async function runNode(plan: NodePlan, flags: StartFlags): Promise<void> {
  const dataDir = resolve(flags.dataDir ?? `.fednode/${plan.runId}/${plan.dirName}`);
  const logger = jsonLogger({ file: flags.log, level: flags.logLevel });
  let running: RunningNode;
  try {
    running = plan.make(dataDir, logger);
  } catch (e) {
    logger.close();
    throw e;
  }
  const { node } = running;
  const progress = process.stdout.isTTY === true ? progressLine(() => running.progress()) : null;
  let failure: Error | null = null;
  const stopped = new Promise<void>((resolveStop) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolveStop());
    running.finished.then(
      () => resolveStop(),
      (e: Error) => {
        failure ??= e;
        resolveStop();
      },
    );
  });
  try {
    await node.start();
    if (process.stdout.isTTY !== true) process.stdout.write(JSON.stringify({ peerId: node.peerId, addrs: node.addrs, metricsPort: node.metricsPort }) + '\n');
    await stopped;
  } finally {
    progress?.stop();
    await node.stop();
    logger.close();
    // Whatever libp2p or a worker still holds open must not keep a finished node alive.
    setTimeout(() => process.exit(process.exitCode ?? 1), 5000).unref();
  }
  if (failure !== null) throw failure;
  // libp2p may leave sockets closing; the run is over and everything is on disk.
  process.exit(0);
}

/** One line on the terminal that follows the run. */
function progressLine(text: () => string): { stop: () => void } {
  const timer = setInterval(() => void process.stdout.write(`\r\x1b[2K${text()}`), 500);
  return {
    stop: () => {
      clearInterval(timer);
      process.stdout.write('\n');
    },
  };
}

function federatedProgress(node: FedNode, rounds: number): string {
  const s = node.status();
  const a = s.aggregator;
  const t = s.trainer;
  const parts = [`${s.runId}`, `${s.peers.length} peer(s)`];
  if (a !== undefined) {
    const acc = a.lastMetrics?.accuracy;
    parts.push(`version ${a.version}/${rounds}`, `round ${a.round}: ${a.received}${a.cohort === null ? '' : `/${a.cohort}`} updates`);
    if (acc !== undefined) parts.push(`accuracy ${acc.toFixed(4)}`);
  }
  if (t !== undefined) parts.push(`trainer ${t.state}`, `last round ${t.lastRound}`);
  return parts.join(' | ');
}

function peerProgress(node: PeerNode): string {
  const s = node.status();
  const p = s.peer;
  const parts = [s.runId, `${s.peers.length} connection(s)`];
  if (p !== undefined) {
    parts.push(`${p.algorithm} ${p.state}`, `step ${p.step}/${p.steps}`, `${p.lastContributors} contributors`);
    if (p.lastLoss !== null) parts.push(`loss ${p.lastLoss.toFixed(4)}`);
    if (p.bytesSentPerStep !== null) parts.push(`${p.bytesSentPerStep} B/step sent (${(p.denseBytesPerStep / p.bytesSentPerStep).toFixed(0)}x below fp32)`);
  }
  return parts.join(' | ');
}
