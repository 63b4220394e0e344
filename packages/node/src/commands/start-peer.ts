import { resolve } from 'node:path';
import { DaemonError } from '../runtime/errors.js';
import { jsonLogger } from '../runtime/log.js';
import { createPeerNode, type PeerNode } from '../peer/peer-node.js';
import { loadPeerRunFile } from '../peer/peer-run-file.js';
import type { StartFlags } from './start-flags.js';

/**
 * `fednode start --config RUN.yaml --role peer --shard I`: one decentralised peer until the
 * run's last step (exit 0), a signal (clean shutdown, exit 0) or a failure (exit 1).
 */
export async function startPeer(flags: StartFlags): Promise<void> {
  const { run } = loadPeerRunFile(flags.config);
  if (flags.role !== 'peer') throw new DaemonError('DAEMON_CONFIG', `${flags.config} is a decentralised run (mode: decentralised): it has no ${flags.role}; start it with --role peer`);
  if (flags.shard === undefined) throw new DaemonError('DAEMON_CONFIG', `a peer needs --shard (0..${run.data.shares - 1}): which share of the speakers it trains on`);
  const dataDir = resolve(flags.dataDir ?? `.fednode/${run.run}/peer-${flags.shard}`);
  const logger = jsonLogger({ file: flags.log, level: flags.logLevel });
  const node = createPeerNode({
    run: flags.config,
    shard: flags.shard,
    dataDir,
    listen: flags.listen,
    bootstrap: flags.bootstrap,
    key: flags.key,
    metricsPort: flags.metricsPort,
    logger,
  });
  const progress = process.stdout.isTTY === true ? progressLine(node) : null;
  let failure: Error | null = null;
  const stopped = new Promise<string>((resolveStop) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolveStop(sig));
    node.done.then(
      () => resolveStop('done'),
      (e: Error) => {
        failure = e;
        resolveStop('error');
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
    setTimeout(() => process.exit(process.exitCode ?? 1), 5000).unref();
  }
  if (failure !== null) throw failure;
  process.exit(0);
}

function progressLine(node: PeerNode): { stop: () => void } {
  const timer = setInterval(() => {
    const s = node.status();
    const p = s.peer;
    const parts = [s.runId, `${s.peers.length} connection(s)`];
    if (p !== undefined) {
      parts.push(`${p.algorithm} ${p.state}`, `step ${p.step}/${p.steps}`, `${p.lastContributors} contributors`);
      if (p.lastLoss !== null) parts.push(`loss ${p.lastLoss.toFixed(4)}`);
      if (p.bytesSentPerStep !== null) parts.push(`${p.bytesSentPerStep} B/step sent (${(p.denseBytesPerStep / p.bytesSentPerStep).toFixed(0)}x below fp32)`);
    }
    process.stdout.write(`\r\x1b[2K${parts.join(' | ')}`);
  }, 500);
  return {
    stop: () => {
      clearInterval(timer);
      process.stdout.write('\n');
    },
  };
}
