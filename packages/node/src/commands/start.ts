import { Command, InvalidArgumentError, Option } from 'commander';
import type { StartFlags } from './start-flags.js';

export type { StartFlags };

/**
 * `fednode start --config RUN.yaml --role aggregator|trainer|both|peer`: runs one node until
 * its run completes (exit 0), a signal stops it (SIGINT/SIGTERM: clean shutdown, exit 0), or
 * it fails (one line on stderr, exit 1). Logs are JSON lines on stderr or --log FILE; on a
 * terminal a progress line on stdout follows the run, elsewhere one JSON line on stdout gives
 * the peer id, addresses and metrics port. The node itself is made and run in start-run.ts.
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
      // The daemon and peer runtimes (libp2p, the learner, the run file's schemas) load only when a node starts.
      const { startNode } = await import('./start-run.js');
      await startNode(flags, options.fault);
    });
}
