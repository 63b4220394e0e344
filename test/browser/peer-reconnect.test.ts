import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserPeerEvent } from '@fednode/node/browser';
import { Cluster, freePort, readLog, waitForLog, within, type LogLine } from '../cluster.js';
import { noChromium, openPage, type OpenPage } from './chromium.js';
import { cutProxy, type CutProxy } from './cut-proxy.js';
import { appState, fednodeWeb, joinedPeer, onAppEvent, writeBrowserPeerRun, type PageEvent } from './web-app.js';

/**
 * A browser DeMo peer whose network goes away for 30 s while two daemon peers train on: the
 * page knows only a proxied address of p0 (p1 listens on TCP alone, which a page cannot dial,
 * so the page reaches it through p0's gossip), and cutting the proxy cuts the page off from
 * the whole run. The daemons drop the page after the step timeout and step on without it; the
 * page hears from no one, stops stepping, and once the network is back re-joins at an
 * announced step with the pulled parameters and its own momentum.
 */

const PSK = 'browser-peer-cut-pre-shared-key-0123456789';
const CUT_MS = 30_000;
const STEPS = 170;
const HASH_EVERY = 10;
const CUT_AFTER = 6;
const DELAY_MS = 250;

const hashesOf = (lines: LogLine[]) => new Map(lines.filter((l) => l.event === 'peer.hash').map((l) => [l.step as number, l.hash as string]));
type Ev<K extends BrowserPeerEvent['kind']> = Extract<BrowserPeerEvent, { kind: K }>;
const is =
  <K extends BrowserPeerEvent['kind']>(k: K) =>
  (e: PageEvent): e is Ev<K> =>
    e.kind === k;

test('a browser DeMo peer cut off for 30 s re-joins, keeps its momentum, and agrees with the daemons', { skip: noChromium, timeout: 240_000 }, async () => {
  const c = new Cluster('browser-peer-cut');
  let page: OpenPage | null = null;
  let stopWeb: (() => Promise<void>) | null = null;
  let proxy: CutProxy | null = null;
  let slow: CutProxy | null = null;
  try {
    // A short step timeout: the daemons drop the page (and the page finds itself alone) within the cut.
    const runPath = writeBrowserPeerRun(c, 'browser-peer-cut', PSK, { steps: STEPS, hashEvery: HASH_EVERY, timeoutS: 3 });
    const keys = [await c.key('p0'), await c.key('p1')];
    const wsPort = await freePort();
    proxy = await cutProxy(wsPort);
    const web = fednodeWeb(['--config', runPath, '--peer', `/ip4/127.0.0.1/tcp/${proxy.port}/ws/p2p/${keys[0].peerId}`, '--port', '0', '--rows', '59000:59256']);
    web.catch(() => undefined);
    const startPeer = (i: number, args: string[]) => c.start(`p${i}`, ['--config', runPath, '--role', 'peer', '--shard', String(i), '--key', keys[i].path, '--data-dir', c.dataDir(`p${i}`), '--listen', '/ip4/127.0.0.1/tcp/0', ...args]);
    const started = (p: { log: string; name: string }) => waitForLog(p.log, (ls) => ls.find((l) => l.event === 'node.started'), 30_000, `${p.name} to start`);
    const p0 = startPeer(0, ['--listen', `/ip4/127.0.0.1/tcp/${wsPort}/ws`]);
    const a0 = (await started(p0)).addrs as string[];
    // The daemons' link is slow, so each step takes about DELAY_MS: the run spans the cut.
    const tcp0 = /\/tcp\/(\d+)\//.exec(a0[0])!;
    slow = await cutProxy(Number(tcp0[1]), DELAY_MS);
    const p1 = startPeer(1, ['--bootstrap', a0[0].replace(`/tcp/${tcp0[1]}/`, `/tcp/${slow.port}/`)]);
    const procs = [p0, p1];
    const served = await web;
    stopWeb = served.stop;
    page = await openPage(`${served.url}#key=${PSK}`);
    const browserId = await joinedPeer(page);
    const p = page;
    await started(p1);

    // Cut once the page has contributed to a few steps (the app calls us as it hears them).
    let stepped!: () => void;
    const ready = new Promise<void>((resolve) => (stepped = resolve));
    await onAppEvent(p, (e) => {
      if (e.kind === 'step' && 'record' in e && e.record.step === CUT_AFTER) stepped();
    });
    await within(ready, 60_000, `the page to reach step ${CUT_AFTER}`);
    await proxy.cut();
    const cutAt = Date.now();
    await new Promise((r) => setTimeout(r, CUT_MS));
    const during = (await p.page.evaluate(appState)).events;
    await proxy.restore();
    const restoredAt = Date.now();

    const done = await within(Promise.all(procs.map((x) => waitForLog(x.log, (ls) => ls.find((l) => l.event === 'peer.done'), 60_000, `${x.name} to finish`))), 65_000, 'the run');
    let state = await p.page.evaluate(appState);
    for (let i = 0; i < 50 && !state.events.some(is('done')) && state.error === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await p.page.evaluate(appState);
    }
    assert.equal(state.error, null, `the browser peer failed: ${state.error}`);
    const events = state.events;
    const pageDone = events.find(is('done'));
    assert.ok(pageDone !== undefined, `the browser peer did not finish: ${JSON.stringify(events.filter((e) => e.kind !== 'step')).slice(0, 2000)}`);
    assert.ok(restoredAt - cutAt >= CUT_MS);

    // The cut was real: the page found itself alone during it, and each daemon dropped the page.
    const cutOff = during.find((e) => e.kind === 'log' && e.event === 'peer.cut_off');
    assert.ok(cutOff !== undefined, `the page did not notice the cut: ${JSON.stringify(during.filter((e) => e.kind === 'log'))}`);
    const logs = procs.map((x) => readLog(x.log));
    const at = (l: LogLine) => Date.parse(l.t as string);
    const stepsOf = (l: LogLine[]) => l.filter((x) => x.event === 'sync.step');
    for (const [i, l] of logs.entries()) {
      const dropped = l.find((x) => x.event === 'peer.dropped' && x.peer === browserId);
      assert.ok(dropped !== undefined && at(dropped) >= cutAt && at(dropped) < restoredAt, `p${i} dropped the page during the cut`);
      // ... and stepped on without it while the page was away.
      const without = stepsOf(l).filter((x) => at(x) > cutAt && at(x) < restoredAt && !(x.contributor_ids as string[]).includes(browserId));
      // How many depends on the machine's load (a loaded machine steps slowly): any is the point.
      assert.ok(without.length >= 1, `p${i} stepped ${without.length} times without the page during the cut`);
    }

    // The page re-joined (not as a new member) with the pulled parameters and its own momentum, unchanged and not zeroed.
    const joined = events.filter(is('joined'));
    assert.equal(joined.length, 1, JSON.stringify(joined));
    const j = joined[0];
    assert.equal(j.rejoin, true);
    assert.ok(j.local !== null);
    assert.equal(j.local.after.digest, j.local.before.digest, 'the momentum was kept across the re-join');
    assert.ok(j.local.after.norm > 0, 'the momentum kept is not zero');
    const pageSteps = events.filter(is('step')).map((e) => e.record);
    const beforeCut = pageSteps.filter((r) => r.step < j.step);
    assert.ok(beforeCut.length > CUT_AFTER && beforeCut.at(-1)!.step < j.step - 1, 'the page stepped before the cut and not during it');
    assert.deepEqual(pageSteps.filter((r) => r.step >= j.step).map((r) => r.step), Array.from({ length: STEPS - j.step }, (_, i) => j.step + i), 'the page stepped through from its join to the end');

    // What the page contributed before the cut and from its join on, the daemons counted; nothing between.
    const everyone = [browserId, ...keys.map((k) => k.peerId)].sort();
    for (const [i, l] of logs.entries()) {
      const steps = stepsOf(l);
      assert.equal(steps.length, STEPS);
      for (const x of steps) {
        const ids = x.contributor_ids as string[];
        const s = x.step as number;
        if (s <= CUT_AFTER || s >= j.step) assert.deepEqual(ids, everyone, `p${i} step ${s}: contributors`);
        // The page's contribution to the step after its last may have left before the cut (it
        // then waited for the daemons' in vain): the daemons may count that one, none after it.
        else if (s > beforeCut.at(-1)!.step + 1) assert.ok(!ids.includes(browserId), `p${i} step ${s} counted the page while it was cut off`);
      }
    }
    for (const r of pageSteps.filter((x) => x.step >= j.step)) assert.deepEqual(r.contributors, everyone, `the page's step ${r.step}`);

    // Every peer agrees at every checkpoint from the re-join on, and at the end.
    const pageHashes = new Map(events.filter(is('hash')).map((e) => [e.step, e.hash]));
    const after = Array.from({ length: STEPS / HASH_EVERY }, (_, i) => (i + 1) * HASH_EVERY).filter((s) => s > j.step);
    assert.ok(after.length >= 2);
    for (const [i, l] of logs.entries()) {
      const hashes = hashesOf(l);
      for (const s of after) assert.equal(hashes.get(s), pageHashes.get(s), `p${i}'s hash at step ${s}`);
    }
    assert.ok(after.every((s) => pageHashes.has(s)));
    const finals = [...done.map((d) => d.hash as string), pageDone.hash];
    assert.equal(new Set(finals).size, 1, `final hashes: ${finals.join(' ')}`);
    assert.equal(pageDone.step, STEPS);
  } finally {
    await page?.close();
    await stopWeb?.();
    await proxy?.close();
    await slow?.close();
    await c.close();
  }
});
