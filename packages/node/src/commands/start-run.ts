import { resolve } from 'node:path';
import { createNode, type FedNode, type NodeRole } from '../daemon/node.js';
import type { RunFile } from '../daemon/run-file.js';
import { createPeerNode, type PeerNode } from '../peer/peer-node.js';
import type { PeerRunFile } from '../peer/peer-run-file.js';
import { DaemonError } from '../runtime/errors.js';
import { jsonLogger, type Logger } from '../runtime/log.js';
import { loadRunDocument } from '../run-document.js';
import type { StartFlags } from './start-flags.js';

/**
 * What `fednode start` runs once its flags are parsed (commands/start.ts), loaded only then:
 * the run document's node, until its run is over. Every role runs through `runNode`; a role
 * differs only in how its node is made (`federated`, `decentralised`) and what its progress
 * line says.
 */

/** Starts the node the run document and the flags describe; `fault` is for test builds only. */
export async function startNode(flags: StartFlags, fault: string | undefined): Promise<void> {
  const doc = loadRunDocument(flags.config);
  if (doc.mode === 'decentralised') return runNode(decentralised(flags, doc.run, doc.baseDir), flags);
  if (flags.role === 'peer') throw new DaemonError('DAEMON_CONFIG', `${flags.config} is a federated run (no mode: decentralised): start it with --role aggregator, trainer or both`);
  return runNode(federated(flags, flags.role, doc.run, doc.baseDir, fault), flags);
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
