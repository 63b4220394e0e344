import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

/**
 * A small static file server for pages: each URL prefix maps to a folder. Every response
 * carries the cross-origin isolation headers (COOP same-origin, COEP require-corp), without
 * which a page may not share memory with workers and onnxruntime-web runs on one thread.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface StaticServer {
  readonly url: string;
  close(): Promise<void>;
}

/** `routes` maps a URL prefix ('/' or '/ort/') to a folder; the longest matching prefix wins. */
export async function serveStatic(routes: Readonly<Record<string, string>>, opts: { host?: string; port?: number } = {}): Promise<StaticServer> {
  const prefixes = Object.keys(routes).sort((a, b) => b.length - a.length);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const prefix = prefixes.find((p) => path.startsWith(p));
    let file: string | null = null;
    if (prefix !== undefined) {
      const root = normalize(routes[prefix]);
      const rel = path.slice(prefix.length) || 'index.html';
      const candidate = normalize(join(root, rel));
      // A path that climbs out of its folder ('..') is refused, not served.
      if (candidate.startsWith(root + sep) || candidate === root) file = candidate;
    }
    let size = -1;
    try {
      if (file !== null && statSync(file).isFile()) size = statSync(file).size;
    } catch {
      size = -1;
    }
    if (file === null || size < 0 || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain', ...ISOLATION_HEADERS }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': size, 'Cache-Control': 'no-store', ...ISOLATION_HEADERS });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
