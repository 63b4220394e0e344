import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { data } from '@fednode/core';
import { encodeShareFile, loadPeerRunFile, peerWebJoinOf } from '@fednode/node';
import type { BrowserPeerEvent } from '@fednode/node/browser';
import { Cluster, mnistPeerRun, readLog, waitForLog, within, type LogLine } from '../cluster.js';
import { noChromium, openBundledPage, type BrowserPage } from './chromium.js';
import type { PeerPageApi, PeerPageState } from './peer-page.js';

/**
 * A decentralised run of two `fednode start --role peer` daemons and one browser peer: the
 * daemons listen on TCP and WebSockets, the run needs its key (private network and
 * /fednode/auth/1), and headless Chromium joins with `BrowserPeer` over WebSockets. minPeers is
 * three, so no step starts without the page, and every step waits for its contribution. Every
 * peer, the page included, must publish the same parameter hash at each checkpoint and at the end.
 */

const PAGE = fileURLToPath(new URL('./peer-page.ts', import.meta.url));
const PSK = 'browser-peer-pre-shared-key-0123456789';
const STEPS = 8;
const HASH_EVERY = 4;

const hashesOf = (lines: LogLine[]) => new Map(lines.filter((l) => l.event === 'peer.hash').map((l) => [l.step as number, l.hash as string]));

test('2 DeMo peers in Node and 1 in the browser: every step counts all three, parameter hashes agree at every checkpoint and at the end', { skip: noChromium, timeout: 90_000 }, async () => {
  const c = new Cluster('browser-peer');
  let page: BrowserPage | null = null;
  try {
    writeFileSync(join(c.dir, 'psk'), PSK + '\n', { mode: 0o600 });
    // A small MLP (25k parameters) and few steps: the test is about agreement, not learning.
    const runPath = c.writeRun(
      'run',
      mnistPeerRun('browser-peer', 3, { steps: STEPS, hashEvery: HASH_EVERY, batch: 32, timeoutS: 20 }, { task: { name: 'mlp', dataset: 'mnist', model: { hidden: 32, depth: 1 } }, data: { partition: { kind: 'iid' }, shares: 3, evalSamples: 200 }, admission: { psk: { file: 'psk' } } }),
    );
    const keys = [await c.key('p0'), await c.key('p1')];
    const listen = ['--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/tcp/0/ws'];
    const startPeer = (i: number, bootstrap: string[]) => c.start(`p${i}`, ['--config', runPath, '--role', 'peer', '--shard', String(i), '--key', keys[i].path, '--data-dir', c.dataDir(`p${i}`), ...listen, ...bootstrap]);
    const started = (p: { log: string; name: string }) => waitForLog(p.log, (ls) => ls.find((l) => l.event === 'node.started'), 30_000, `${p.name} to start`);
    const p0 = startPeer(0, []);
    // The page is bundled and opened while the daemons start.
    const opening = openBundledPage(PAGE);
    const a0 = (await started(p0)).addrs as string[];
    const p1 = startPeer(1, ['--bootstrap', a0[0]]);
    const a1 = (await started(p1)).addrs as string[];
    const ws = [a0, a1].map((addrs) => addrs.find((a) => a.includes('/ws/')));
    assert.ok(ws.every((a) => a !== undefined), `the daemons listen on WebSockets: ${JSON.stringify([a0, a1])}`);

    const { run } = loadPeerRunFile(runPath);
    const joinDoc = peerWebJoinOf(run, ws as string[]);
    // The page's rows: MNIST training rows normalised as the daemons' are (its share, 2 of 3).
    const pixels = data.loadImagePixels('mnist');
    const rows = data.imageRows(pixels.train, pixels.normalization, Uint32Array.from({ length: 256 }, (_, i) => 59_000 + i));
    const share64 = Buffer.from(encodeShareFile(rows)).toString('base64');
    page = await opening;
    const browserId = await page.page.evaluate((p) => (globalThis as unknown as { fednodePeerPage: PeerPageApi }).fednodePeerPage.join(p), { join: joinDoc, psk: PSK, share64, shard: 2, threads: 1 });

    const readPage = (): Promise<PeerPageState> => page!.page.evaluate(() => (globalThis as unknown as { fednodePeerPage: PeerPageApi }).fednodePeerPage.state());
    const procs = [p0, p1];
    const done = await within(Promise.all(procs.map((p) => waitForLog(p.log, (ls) => ls.find((l) => l.event === 'peer.done'), 60_000, `${p.name} to finish`))), 65_000, 'the run');
    let state = await readPage();
    for (let i = 0; i < 50 && state.done === null && state.error === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await readPage();
    }
    assert.equal(state.error, null, `the browser peer failed: ${state.error}`);
    assert.ok(state.done !== null, `the browser peer did not finish: ${JSON.stringify(state.status)}`);

    // One final hash on all three, and it is not the initial one: the run moved the parameters.
    const finals = [...done.map((d) => d.hash as string), state.done.hash];
    assert.equal(new Set(finals).size, 1, `final hashes: ${finals.join(' ')}`);
    assert.notEqual(state.done.hash, joinDoc.initialHash, 'the parameters changed from the initial ones');
    assert.equal(state.done.step, STEPS);

    // The same hash at every checkpoint, the page's included.
    const pageHashes = new Map(state.events.filter((e): e is Extract<BrowserPeerEvent, { kind: 'hash' }> => e.kind === 'hash').map((e) => [e.step, e.hash]));
    const logs = procs.map((p) => readLog(p.log));
    const checkpoints = Array.from({ length: STEPS / HASH_EVERY }, (_, i) => (i + 1) * HASH_EVERY);
    for (const [name, hashes] of [['p0', hashesOf(logs[0])], ['p1', hashesOf(logs[1])], ['the browser', pageHashes]] as const) {
      assert.deepEqual([...hashes.keys()].sort((x, y) => x - y), checkpoints, `${name}'s checkpoints`);
      for (const s of checkpoints) assert.equal(hashes.get(s), pageHashes.get(s), `${name}'s hash at step ${s}`);
    }
    // Each peer heard the two others agree at the last checkpoint.
    const lastHash = state.events.filter((e): e is Extract<BrowserPeerEvent, { kind: 'hash' }> => e.kind === 'hash').at(-1)!;
    assert.equal(lastHash.disagree, 0);

    // Every step of the daemons aggregated the browser's contribution, and the page aggregated theirs.
    const everyone = [browserId, ...keys.map((k) => k.peerId)].sort();
    for (const l of logs) {
      const steps = l.filter((x) => x.event === 'sync.step');
      assert.equal(steps.length, STEPS);
      for (const s of steps) assert.deepEqual(s.contributor_ids, everyone, `step ${String(s.step)}: contributors`);
    }
    const pageSteps = state.events.filter((e): e is Extract<BrowserPeerEvent, { kind: 'step' }> => e.kind === 'step');
    assert.equal(pageSteps.length, STEPS);
    for (const s of pageSteps) assert.deepEqual(s.record.contributors, everyone);
    assert.deepEqual(state.events.filter((e) => e.kind === 'log' && e.level !== 'info'), [], 'the page logged no warnings');
  } finally {
    await page?.page.evaluate(() => (globalThis as unknown as { fednodePeerPage: PeerPageApi }).fednodePeerPage.stop()).catch(() => undefined);
    await page?.close();
    await c.close();
  }
});
