import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebJoin } from '../browser-peer/join.js';
import type { PeerWebJoin } from '../browser-peer/peer-join.js';
import { DaemonError } from '../runtime/errors.js';
import { bundleBrowserEntry, onnxruntimeWebDir } from './bundle.js';
import { serveStatic, type StaticServer } from './static-server.js';

/**
 * What `fednode web` serves: a browser app (a folder with index.html and app.ts, and the
 * `<kind>-worker.ts` beside it for the run's kind, trainer or peer, when it has one: each is
 * bundled at start into /dist/<name>.js),
 * the run resolved for a page (/dist/join.json, whose `kind` tells the page whether it joins
 * as a trainer or as a peer), the data files the page loads beside it (/dist/share.bin, …) and
 * onnxruntime-web's files (/ort/), all cross-origin isolated.
 */

export type AppJoin = WebJoin | PeerWebJoin;

export interface WebAppOptions {
  readonly join: AppJoin;
  /** Files served under /dist/ beside join.json, by name (share files the page loads). */
  readonly files: Readonly<Record<string, Uint8Array>>;
  /** The app folder: index.html, app.ts. */
  readonly appDir: string;
  readonly host?: string;
  readonly port?: number;
}

export interface WebApp {
  readonly url: string;
  readonly bundleBytes: number;
  close(): Promise<void>;
}

export async function serveWebApp(o: WebAppOptions): Promise<WebApp> {
  const entry = join(o.appDir, 'app.ts');
  if (!existsSync(join(o.appDir, 'index.html')) || !existsSync(entry)) throw new DaemonError('RUN_FILE', `${o.appDir} has no index.html and app.ts to serve`);
  const dist = mkdtempSync(join(tmpdir(), 'fednode-web-'));
  let server: StaticServer | null = null;
  try {
    const bundle = await bundleBrowserEntry({ entry, outfile: join(dist, 'app.js') });
    // Only the worker of the run's kind: bundling the other would cost a second or more at every start for nothing.
    const worker = `${o.join.kind}-worker`;
    if (existsSync(join(o.appDir, `${worker}.ts`))) await bundleBrowserEntry({ entry: join(o.appDir, `${worker}.ts`), outfile: join(dist, `${worker}.js`) });
    writeFileSync(join(dist, 'join.json'), JSON.stringify(o.join, null, 2) + '\n');
    for (const [name, bytes] of Object.entries(o.files)) writeFileSync(join(dist, name), bytes);
    server = await serveStatic({ '/': o.appDir, '/dist/': dist, '/ort/': onnxruntimeWebDir() }, { ...(o.host === undefined ? {} : { host: o.host }), ...(o.port === undefined ? {} : { port: o.port }) });
    const s = server;
    return {
      url: s.url,
      bundleBytes: bundle.bytes,
      async close() {
        await s.close();
        rmSync(dist, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await server?.close();
    rmSync(dist, { recursive: true, force: true });
    throw e;
  }
}
