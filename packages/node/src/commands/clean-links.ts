import { Command } from 'commander';

/**
 * `fednode clean-links`: removes what shaped runs of processes no longer running left behind
 * (a run killed with SIGKILL cannot clean up): their network namespaces, with the veths,
 * qdiscs and daemons inside. A shaped run does the same when it starts.
 */
export function cleanLinksCommand(): Command {
  return new Command('clean-links')
    .description("remove the network namespaces, veths, qdiscs and daemons that killed `simulate --shaped` runs left behind (needs root)")
    .action(async () => {
      // The namespace tools alone, not the whole simulator, and only when the command runs.
      const { SimError } = await import('../sim/errors.js');
      const { shapingUnavailable, sweepStaleNamespaces } = await import('../sim/netns.js');
      const why = shapingUnavailable();
      if (why !== null) throw new SimError('SIM_RUN', why.replace(', or drop --shaped', ''));
      const removed = sweepStaleNamespaces();
      console.log(removed.length === 0 ? 'no shaped links left behind' : `removed ${removed.length} network namespaces: ${removed.join(', ')}`);
    });
}
