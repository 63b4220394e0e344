import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { bundleBrowserEntry } from '../src/web/bundle.js';
import { serveStatic } from '../src/web/static-server.js';

/** The browser bundler's platform seams, and the static server pages are served from. */

test('a browser bundle takes x.browser.ts in place of x.ts, and a Node-only import fails the bundle naming its file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-bundle-'));
  try {
    writeFileSync(join(dir, 'where.ts'), "import { hostname } from 'node:os';\nexport const where = (): string => `node ${hostname()}`;\n");
    writeFileSync(join(dir, 'where.browser.ts'), "export const where = (): string => 'the browser side';\n");
    writeFileSync(join(dir, 'entry.ts'), "import { where } from './where.js';\nconsole.log(where(), Buffer.from('hi').toString('hex'));\n");
    const b = await bundleBrowserEntry({ entry: join(dir, 'entry.ts'), outfile: join(dir, 'out.js'), minify: false });
    const js = readFileSync(b.file, 'utf8');
    assert.match(js, /the browser side/);
    assert.doesNotMatch(js, /node:os/);
    assert.equal(b.bytes, Buffer.byteLength(js));

    mkdirSync(join(dir, 'bad'));
    writeFileSync(join(dir, 'bad', 'reads.ts'), "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n");
    writeFileSync(join(dir, 'bad', 'entry.ts'), "import { r } from './reads.js';\nconsole.log(r);\n");
    await assert.rejects(bundleBrowserEntry({ entry: join(dir, 'bad', 'entry.ts'), outfile: join(dir, 'bad.js') }), /node:fs[\s\S]*reads\.ts|reads\.ts[\s\S]*node:fs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the static server sends the cross-origin isolation headers and refuses paths out of its folders', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-static-'));
  writeFileSync(join(dir, 'index.html'), '<p>hi</p>');
  writeFileSync(join(tmpdir(), 'fednode-static-secret.txt'), 'secret');
  const server = await serveStatic({ '/': dir });
  try {
    const ok = await fetch(server.url);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), '<p>hi</p>');
    assert.equal(ok.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(ok.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.equal(ok.headers.get('content-type'), 'text/html; charset=utf-8');
    // fetch() would normalise '..' away; a raw request sends it as a client may.
    const { port } = new URL(server.url);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/..%2ffednode-static-secret.txt' }, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(status, 404, 'a path that climbs out of the folder is not served');
    assert.equal((await fetch(`${server.url}missing.js`)).status, 404);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(tmpdir(), 'fednode-static-secret.txt'), { force: true });
  }
});
