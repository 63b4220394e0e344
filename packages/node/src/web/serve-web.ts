import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data } from '@fednode/core';
import { encodeShareFile } from '../browser-peer/share-file.js';
import type { RunFile } from '../daemon/run-file.js';
import { DaemonError } from '../runtime/errors.js';
import { bundleBrowserEntry, onnxruntimeWebDir } from './bundle.js';
import { webJoinOf } from './join-of.js';
import { serveStatic, type StaticServer } from './static-server.js';

/**
 * What `fednode web` serves: a browser app (a folder with index.html and app.ts, and any
 * trainer-worker.ts beside it for a dedicated worker, bundled at start into /dist/), the run resolved for a page (/dist/join.json), MNIST rows for the page to train on
 * (/dist/share.bin) and onnxruntime-web's files (/ort/), all cross-origin isolated.
 */

export interface WebAppOptions {
  readonly run: RunFile;
  /** The aggregator's WebSocket multiaddr with /p2p/<id>. */
  readonly aggregator: string;
  /** The app folder: index.html, app.ts. */
  readonly appDir: string;
  /** MNIST training rows [from, to) the page trains on. */
  readonly rows: readonly [number, number];
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
  const [from, to] = o.rows;
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= 60_000)) throw new DaemonError('RUN_FILE', `rows ${from}:${to} are not a range of MNIST's 60,000 training rows`);
  const join_ = webJoinOf(o.run, o.aggregator);
  const dist = mkdtempSync(join(tmpdir(), 'fednode-web-'));
  let server: StaticServer | null = null;
  try {
    const bundle = await bundleBrowserEntry({ entry, outfile: join(dist, 'app.js') });
    const worker = join(o.appDir, 'trainer-worker.ts');
    if (existsSync(worker)) await bundleBrowserEntry({ entry: worker, outfile: join(dist, 'trainer-worker.js') });
    writeFileSync(join(dist, 'join.json'), JSON.stringify(join_, null, 2) + '\n');
    // The page's rows are normalised as the run's dataset is: with the whole training split's statistics.
    const pixels = data.loadImagePixels('mnist');
    writeFileSync(join(dist, 'share.bin'), encodeShareFile(data.imageRows(pixels.train, pixels.normalization, Uint32Array.from({ length: to - from }, (_, i) => from + i))));
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
