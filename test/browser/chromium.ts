import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { bundleBrowserEntry, onnxruntimeWebDir, serveStatic, type StaticServer } from '@fednode/node';

/**
 * Debian's Chromium driven headless by playwright-core (which never downloads a browser), and
 * a page that loads one bundled script from a cross-origin isolated local server, with
 * onnxruntime-web's files under /ort/.
 */

export const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying hosts this network refuses.
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A reason to skip, or false when Chromium is installed. */
export const noChromium: string | false = existsSync(CHROMIUM) ? false : `Debian's Chromium is not at ${CHROMIUM} (apt-get install chromium)`;

export interface BrowserPage extends OpenPage {
  readonly url: string;
  readonly bundleBytes: number;
}

/**
 * The peak resident memory (VmHWM, bytes) of the Chromium renderer processes this Node process
 * started, found through /proc: the page's JavaScript, its WASM memory and its WASM threads all
 * live in the renderer. null where /proc is not there (not Linux).
 */
export function rendererPeakRss(): number | null {
  if (!existsSync('/proc/self/status')) return null;
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The parent pid is the 4th field after the command name's closing parenthesis.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const ours = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  let peak = 0;
  for (const pid of parent.keys()) {
    try {
      if (!ours(pid) || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (hwm !== null) peak = Math.max(peak, Number(hwm[1]) * 1024);
    } catch {
      // the process ended while we looked
    }
  }
  return peak;
}

export interface OpenPage {
  readonly page: Page;
  /** Bytes of each response the page received so far, by path (the bundle, onnxruntime-web's .wasm and .mjs). */
  readonly received: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/** Opens `url` in a fresh headless Chromium; page errors fail the load. */
export async function openPage(url: string): Promise<OpenPage> {
  // playwright-core starts Chromium with a fresh temporary profile of its own.
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
  try {
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    const received = new Map<string, number>();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('response', (r) => {
      // Content-Length is what the static server sends for every file.
      received.set(new URL(r.url()).pathname, Number(r.headers()['content-length'] ?? 0));
    });
    await page.goto(url);
    if (errors.length > 0) throw new Error(`the page failed to start: ${errors.join('; ')}`);
    return { page, received, close: () => browser.close() };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

/** Bundles `entry`, serves it as /app.js from an HTML page, opens the page in a fresh headless Chromium. */
export async function openBundledPage(entry: string): Promise<BrowserPage> {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-page-'));
  let server: StaticServer | null = null;
  try {
    const bundle = await bundleBrowserEntry({ entry, outfile: join(dir, 'app.js') });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>fednode</title><script type="module" src="/app.js"></script>\n');
    server = await serveStatic({ '/': dir, '/ort/': onnxruntimeWebDir() });
    const opened = await openPage(server.url);
    const s = server;
    return {
      page: opened.page,
      url: server.url,
      bundleBytes: bundle.bytes,
      received: opened.received,
      async close() {
        await opened.close();
        await s.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
