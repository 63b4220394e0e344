import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserPeerEvent, BrowserTrainerEvent, SavedTrainer } from '@fednode/node/browser';
import { CLI, mnistPeerRun, within, type Cluster } from '../cluster.js';
import type { OpenPage } from './chromium.js';

/** Driving the example app (examples/browser) as `fednode web` serves it, for the browser tests. */

/** A trainer's events in a federated run, a peer's in a decentralised one. */
export type PageEvent = BrowserTrainerEvent | BrowserPeerEvent;

/** What the example app exposes to an embedding page (and to the tests). */
export interface AppState {
  readonly kind: 'trainer' | 'peer' | null;
  readonly events: PageEvent[];
  readonly listeners: ((e: PageEvent) => void)[];
  readonly peerId: string | null;
  readonly error: string | null;
  readonly saved: SavedTrainer | null;
}

/** Runs in the page (page.evaluate): the app's state, less its listeners (functions do not leave the page). */
export const appState = (): Omit<AppState, 'listeners'> => {
  const { listeners: _l, ...rest } = (globalThis as unknown as { fednodeApp: AppState }).fednodeApp;
  return rest;
};

/** Calls `fn` in Node with each event the app hears from now on, as it hears it (a page binding, not polling). */
export async function onAppEvent(page: OpenPage, fn: (e: PageEvent) => void): Promise<void> {
  await page.page.exposeFunction('fednodeTestEvent', fn);
  await page.page.evaluate(() => {
    const g = globalThis as unknown as { fednodeApp: AppState; fednodeTestEvent: (e: PageEvent) => void };
    g.fednodeApp.listeners.push((e) => g.fednodeTestEvent(e));
  });
}

/** `fednode web` with these arguments; resolves with the URL it prints and a way to stop it. */
export async function fednodeWeb(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [CLI, 'web', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const url = await within(
      new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /serving run \S+ at (\S+?)(#|\s)/.exec(out);
          if (m !== null) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`fednode web exited with ${code}: ${err}`)));
      }),
      60_000,
      'fednode web to serve',
    );
    return { url, stop: async () => void (child.kill('SIGTERM'), await exited) };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

/** The app's peer id once it has joined; its error if joining failed. */
export function joinedPeer(page: OpenPage): Promise<string> {
  return within(
    (async () => {
      for (;;) {
        const s = await page.page.evaluate(appState);
        if (s.error !== null) throw new Error(`the app failed: ${s.error}`);
        if (s.peerId !== null) return s.peerId;
        await new Promise((r) => setTimeout(r, 200));
      }
    })(),
    60_000,
    'the page to join',
  );
}

/** What the page shows: the text of the elements with these ids, and the progress bar's value and max. */
export async function shownOf(page: OpenPage, ids: readonly string[]): Promise<{ text: Record<string, string>; progress: [number, number] }> {
  const text = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, (await page.page.textContent(`#${id}`)) ?? ''] as const)));
  // value and max are reflected attributes of <progress>.
  const bar = await Promise.all(['value', 'max'].map(async (a) => Number(await page.page.getAttribute('#progress', a))));
  return { text, progress: [bar[0], bar[1]] };
}

/**
 * A 3-peer DeMo run for a page and two daemons, behind the key `psk` (written beside it): a
 * small MLP (25k parameters) and few steps, since these tests are about agreement, not
 * learning. Returns the run file's path.
 */
export function writeBrowserPeerRun(c: Cluster, name: string, psk: string, sync: Record<string, unknown>): string {
  writeFileSync(join(c.dir, 'psk'), psk + '\n', { mode: 0o600 });
  return c.writeRun(
    'run',
    mnistPeerRun(name, 3, { batch: 32, ...sync }, { task: { name: 'mlp', dataset: 'mnist', model: { hidden: 32, depth: 1 } }, data: { partition: { kind: 'iid' }, shares: 3, evalSamples: 200 }, admission: { psk: { file: 'psk' } } }),
  );
}
