import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { UsageError } from '../cli-support.js';

/** The example app of this repository (examples/browser), found from dist/commands/ or src/commands/. */
const EXAMPLE_APP = fileURLToPath(new URL('../../../../examples/browser', import.meta.url));

function rowRange(s: string): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(s);
  if (m === null) throw new UsageError(`--rows ${s} is not FROM:TO (e.g. 6000:7000)`);
  return [Number(m[1]), Number(m[2])];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * `fednode web --config RUN --aggregator /ip4/…/tcp/P/ws/p2p/ID` (a federated run) or
 * `--peer /ip4/…/tcp/P/ws/p2p/ID …` (a decentralised one): serves the browser app next to the
 * running aggregator or peers; opening the printed URL (with #key=… when the run has a key)
 * joins the run from the browser, as a trainer or as a peer.
 */
export function webCommand(): Command {
  return new Command('web')
    .description('serve the browser app next to a running aggregator or decentralised peers: opening its URL joins the run')
    .requiredOption('--config <file>', 'the run document (federated or decentralised)')
    .option('--aggregator <addr>', "a federated run: the aggregator's WebSocket multiaddr with /p2p/<id> (default network.aggregator, when it is one)")
    .option('--peer <addr>', "a decentralised run: a peer's WebSocket multiaddr with /p2p/<id>, repeatable (default the WebSocket addresses in network.bootstrap)", collect, [])
    .option('--rows <from:to>', "MNIST training rows the page trains on (default: a federated run's 1000 rows after data.trainRows; a decentralised run's last 1000)")
    .option('--host <host>', 'address to serve on', '127.0.0.1')
    .option('--port <port>', 'port to serve on (0: a free one)', '8080')
    .option('--app <dir>', 'the app to serve: a folder with index.html and app.ts', EXAMPLE_APP)
    .action(async (flags: { config: string; aggregator?: string; peer: string[]; rows?: string; host: string; port: string; app: string }) => {
      const port = Number(flags.port);
      if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new UsageError(`--port ${flags.port} is not a port`);
      // The run documents' schemas, the join documents and the bundler load only when a page is served.
      const { loadRunDocument } = await import('../run-document.js');
      const { servedRunOf } = await import('./web-runs.js');
      const { serveWebApp } = await import('../web/serve-web.js');
      const doc = loadRunDocument(flags.config);
      const served = servedRunOf(flags.config, doc, { ...(flags.aggregator === undefined ? {} : { aggregator: flags.aggregator }), peer: flags.peer, ...(flags.rows === undefined ? {} : { rows: rowRange(flags.rows) }) });
      const app = await serveWebApp({ ...served, appDir: flags.app, host: flags.host, port });
      process.stdout.write(`serving run ${served.join.runId} at ${app.url}${served.join.keyRequired ? '#key=<the run key>' : ''}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await app.close();
    });
}
