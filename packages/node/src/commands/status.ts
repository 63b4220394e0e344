import { Command } from 'commander';
import { positiveInt } from '../cli-support.js';
import type { StatusFlags } from './status-run.js';

/**
 * `fednode status --connect ADDR`: a running node's run, roles, peers, round, version and last
 * metrics. A node answers members only: with `--config` the run's key admits this client (and
 * lets it into the run's private network); in an allowlisted run, ask with the node's own `--key`.
 */
export function statusCommand(): Command {
  return new Command('status')
    .description("show a running node's run, roles, peers, round, version and last metrics (members only)")
    .requiredOption('--connect <addr>', 'the node, as a multiaddr with /p2p/<peer id>')
    .option('--config <file>', "the run document: its pre-shared key proves this client a member")
    .option('--key <file>', "the identity to ask with (the node's own key file, for a run with an allowlist)")
    .option('--json', 'print the status as one JSON object', false)
    .option('--timeout <s>', 'seconds to wait for the node', positiveInt, 10)
    .action(async (flags: StatusFlags) => {
      // The libp2p client loads only when a node is asked (not for --help or a bad flag).
      const { askStatus } = await import('./status-run.js');
      await askStatus(flags);
    });
}
