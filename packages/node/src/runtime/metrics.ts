/**
 * The opt-in `/metrics` endpoint of a node's counters and gauges (metric-series.ts), in
 * Prometheus text format. The endpoint listens on 127.0.0.1 only: metrics name peers and are for the
 * operator's scraper on the same machine (or a tunnel), not the network.
 */
import { createServer, type Server } from 'node:http';
import { DaemonError } from './errors.js';
import type { Metrics } from './metric-series.js';

export { Metrics } from './metric-series.js';

/** Serves `GET /metrics` on 127.0.0.1:`port` (0: any free port); resolves to the port and a stop function. */
export function serveMetrics(metrics: Metrics, port: number): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?') === true)) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(metrics.text());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: try /metrics\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new DaemonError('DAEMON_CONFIG', `cannot serve metrics on 127.0.0.1:${port}: ${e.message}`, { cause: e })));
    server.listen(port, '127.0.0.1', () => {
      const a = server.address();
      const bound = a !== null && typeof a === 'object' ? a.port : port;
      resolve({ port: bound, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}
