import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createNode, type NodeRole } from '../daemon/node.js';
import { jsonLogger, type LogLevel } from '../runtime/log.js';
import { loadRunFile } from '../daemon/run-file.js';
import type { FedNode } from '../daemon/node.js';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isDecentralised } from '../peer/peer-run-file.js';
import { startPeer } from './start-peer.js';
import type { StartFlags } from './start-flags.js';

export type { StartFlags };

/**
 * `fednode start --config RUN.yaml --role aggregator|trainer|both`: runs a node until the run
 * completes (exit 0), a signal stops it (SIGINT/SIGTERM: clean shutdown, exit 0), or it fails
 * (one line on stderr, exit 1). Logs are JSON lines on stderr or --log FILE; on a terminal a
 * progress line on stdout follows the run.
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

export function startCommand(): Command {
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
      if (flags.role === 'peer' || peekDecentralised(flags.config)) return startPeer(flags);
      const { run } = loadRunFile(flags.config);
      const dataDir = resolve(flags.dataDir ?? `.fednode/${run.run}/${flags.role}`);
      const logger = jsonLogger({ file: flags.log, level: flags.logLevel });
      const node = createNode({
        run: flags.config,
        role: flags.role as NodeRole,
        dataDir,
        listen: flags.listen,
        key: flags.key,
        shard: flags.shard,
        name: flags.name,
        capability: flags.capability,
        aggregator: flags.aggregator,
        metricsPort: flags.metricsPort,
        logger,
        fault: process.env.FEDNODE_FAULT,
      });
      const progress = process.stdout.isTTY === true ? progressLine(node, run.rounds) : null;
      let failure: Error | null = null;
      node.on('error', (e) => (failure ??= e));
      const stopped = new Promise<string>((resolveStop) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolveStop(sig));
        node.on('error', () => resolveStop('error'));
        void node.done.then(() => resolveStop('done'));
      });
      try {
        await node.start();
        if (process.stdout.isTTY !== true) process.stdout.write(JSON.stringify({ peerId: node.peerId, addrs: node.addrs, metricsPort: node.metricsPort }) + '\n');
        const why = await stopped;
        // The aggregator lingers after the last version so trainers can hear of it.
        if (why === 'done' && flags.role !== 'trainer') await new Promise((r) => setTimeout(r, Math.round((run.limits?.lingerS ?? 3) * 1000)));
      } finally {
        progress?.stop();
        await node.stop();
        logger.close();
        // Whatever libp2p or a worker still holds open must not keep a finished daemon alive.
        setTimeout(() => process.exit(process.exitCode ?? 1), 5000).unref();
      }
      if (failure !== null) throw failure;
      // libp2p may leave sockets closing; the run is over and everything is on disk.
      process.exit(0);
    });
}

/** A decentralised run file (mode: decentralised) goes to the peer role whatever --role says; the peer role checks the rest. */
function peekDecentralised(path: string): boolean {
  try {
    return isDecentralised(parseYaml(readFileSync(path, 'utf8')));
  } catch {
    return false;
  }
}

/** One line on the terminal that follows the run. */
function progressLine(node: FedNode, rounds: number): { stop: () => void } {
  let text = 'starting';
  const draw = (): void => void process.stdout.write(`\r\x1b[2K${text}`);
  const update = (): void => {
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
    text = parts.join(' | ');
    draw();
  };
  const timer = setInterval(update, 500);
  return {
    stop: () => {
      clearInterval(timer);
      process.stdout.write('\n');
    },
  };
}
