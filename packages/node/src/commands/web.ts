import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { UsageError } from '../cli-support.js';
import { loadRunFile } from '../daemon/run-file.js';
import { serveWebApp } from '../web/serve-web.js';

/** The example app of this repository (examples/browser), found from dist/commands/ or src/commands/. */
const EXAMPLE_APP = fileURLToPath(new URL('../../../../examples/browser', import.meta.url));

function rowRange(s: string): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(s);
  if (m === null) throw new UsageError(`--rows ${s} is not FROM:TO (e.g. 6000:7000)`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * `fednode web --config RUN --aggregator /ip4/…/tcp/P/ws/p2p/ID`: serves the browser trainer
 * page for a running aggregator; opening the printed URL (with #key=… when the run has a key)
 * joins the run from the browser.
 */
export function webCommand(): Command {
  return new Command('web')
    .description('serve the browser trainer page next to a running aggregator: opening its URL joins the run')
    .requiredOption('--config <file>', 'the run document')
    .option('--aggregator <addr>', "the aggregator's WebSocket multiaddr with /p2p/<id> (default network.aggregator, when it is one)")
    .option('--rows <from:to>', "MNIST training rows the page trains on (default the 1000 rows after the run's data.trainRows)")
    .option('--host <host>', 'address to serve on', '127.0.0.1')
    .option('--port <port>', 'port to serve on (0: a free one)', '8080')
    .option('--app <dir>', 'the app to serve: a folder with index.html and app.ts', EXAMPLE_APP)
    .action(async (flags: { config: string; aggregator?: string; rows?: string; host: string; port: string; app: string }) => {
      const { run } = loadRunFile(flags.config);
      const aggregator = flags.aggregator ?? run.network?.aggregator;
      if (aggregator === undefined || !/\/(ws|wss)\/p2p\//.test(aggregator)) throw new UsageError("give the aggregator's WebSocket address: --aggregator /ip4/<ip>/tcp/<port>/ws/p2p/<id> (start it with --listen /ip4/<ip>/tcp/<port>/ws)");
      const start = run.data.trainRows ?? 0;
      const rows = flags.rows === undefined ? ([start, Math.min(60_000, start + 1000)] as [number, number]) : rowRange(flags.rows);
      const port = Number(flags.port);
      if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new UsageError(`--port ${flags.port} is not a port`);
      const app = await serveWebApp({ run, aggregator, appDir: flags.app, rows, host: flags.host, port });
      process.stdout.write(`serving run ${run.run} at ${app.url}${run.admission !== undefined && run.admission !== 'open' && run.admission.psk !== undefined ? '#key=<the run key>' : ''}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await app.close();
    });
}
