import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPeerRunFile, paramsHash } from '@fednode/node';
import type { BrowserPeerEvent } from '@fednode/node/browser';
import { createTask } from '@fednode/core';
import { Cluster, freePort, readLog, waitForLog, within, type LogLine } from '../cluster.js';
import { noChromium, openPage, type OpenPage } from './chromium.js';
import { appState, fednodeWeb, joinedPeer, shownOf, writeBrowserPeerRun } from './web-app.js';

/**
 * A decentralised run of two `fednode start --role peer` daemons and one browser peer: the
 * daemons listen on TCP and WebSockets, the run needs its key (private network and
 * /fednode/auth/1), and `fednode web --peer …` serves the example app (examples/browser) for
 * the run, which headless Chromium opens with #key=… and so joins as a `BrowserPeer`. minPeers
 * is three, so no step starts without the page, and every step waits for its contribution.
 * Every peer, the page included, must publish the same parameter hash at each checkpoint and at
 * the end, and the page must have shown the run's progress.
 */

const PSK = 'browser-peer-pre-shared-key-0123456789';
const STEPS = 8;
const HASH_EVERY = 4;

const hashesOf = (lines: LogLine[]) => new Map(lines.filter((l) => l.event === 'peer.hash').map((l) => [l.step as number, l.hash as string]));
type Ev<K extends BrowserPeerEvent['kind']> = Extract<BrowserPeerEvent, { kind: K }>;

test('2 DeMo peers in Node and 1 in the example app: every step counts all three, parameter hashes agree at every checkpoint and at the end', { skip: noChromium, timeout: 90_000 }, async () => {
  const c = new Cluster('browser-peer');
  let page: OpenPage | null = null;
  let web: Promise<{ url: string; stop: () => Promise<void> }> | null = null;
  try {
    const runPath = writeBrowserPeerRun(c, 'browser-peer', PSK, { steps: STEPS, hashEvery: HASH_EVERY, timeoutS: 20 });
    const keys = [await c.key('p0'), await c.key('p1')];
    // p0's WebSocket port is chosen here, so `fednode web` is given its address and bundles the app while the daemons start.
    const ws0 = `/ip4/127.0.0.1/tcp/${await freePort()}/ws/p2p/${keys[0].peerId}`;
    web = fednodeWeb(['--config', runPath, '--peer', ws0, '--port', '0', '--rows', '59000:59256']);
    // Awaited below; a failure meanwhile must not count as unhandled.
    web.catch(() => undefined);
    const listen = (ws: string) => ['--listen', '/ip4/127.0.0.1/tcp/0', '--listen', ws];
    const startPeer = (i: number, args: string[]) => c.start(`p${i}`, ['--config', runPath, '--role', 'peer', '--shard', String(i), '--key', keys[i].path, '--data-dir', c.dataDir(`p${i}`), ...args]);
    const started = (p: { log: string; name: string }) => waitForLog(p.log, (ls) => ls.find((l) => l.event === 'node.started'), 30_000, `${p.name} to start`);
    const p0 = startPeer(0, listen(ws0.replace(/\/p2p\/.*$/, '')));
    const a0 = (await started(p0)).addrs as string[];
    // The page reaches p1 through p0: p1's heartbeats carry its WebSocket address.
    const p1 = startPeer(1, [...listen('/ip4/127.0.0.1/tcp/0/ws'), '--bootstrap', a0[0]]);
    const served = await web;
    page = await openPage(`${served.url}#key=${PSK}`);
    const browserId = await joinedPeer(page);
    await started(p1);

    const procs = [p0, p1];
    const done = await within(Promise.all(procs.map((p) => waitForLog(p.log, (ls) => ls.find((l) => l.event === 'peer.done'), 60_000, `${p.name} to finish`))), 65_000, 'the run');
    let state = await page.page.evaluate(appState);
    const doneOf = (events: typeof state.events) => events.find((e): e is Ev<'done'> => e.kind === 'done');
    // The page says it is done after the run's linger (1 s), as the daemons exit after theirs.
    for (let i = 0; i < 50 && doneOf(state.events) === undefined && state.error === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await page.page.evaluate(appState);
    }
    assert.equal(state.error, null, `the browser peer failed: ${state.error}`);
    assert.equal(state.kind, 'peer');
    const events = state.events as BrowserPeerEvent[];
    const pageDone = doneOf(events);
    assert.ok(pageDone !== undefined, `the browser peer did not finish: ${JSON.stringify(events.filter((e) => e.kind !== 'step')).slice(0, 2000)}`);

    // One final hash on all three, and it is not the initial one: the run moved the parameters.
    const finals = [...done.map((d) => d.hash as string), pageDone.hash];
    assert.equal(new Set(finals).size, 1, `final hashes: ${finals.join(' ')}`);
    const { run } = loadPeerRunFile(runPath);
    assert.notEqual(pageDone.hash, paramsHash(createTask('mlp', { dataset: 'mnist', model: run.task.model ?? {} }).initialParams(run.seed)), 'the parameters changed from the initial ones');
    assert.equal(pageDone.step, STEPS);

    // The same hash at every checkpoint, the page's included.
    const pageHashEvents = events.filter((e): e is Ev<'hash'> => e.kind === 'hash');
    const pageHashes = new Map(pageHashEvents.map((e) => [e.step, e.hash]));
    const logs = procs.map((p) => readLog(p.log));
    const checkpoints = Array.from({ length: STEPS / HASH_EVERY }, (_, i) => (i + 1) * HASH_EVERY);
    for (const [name, hashes] of [['p0', hashesOf(logs[0])], ['p1', hashesOf(logs[1])], ['the browser', pageHashes]] as const) {
      assert.deepEqual([...hashes.keys()].sort((x, y) => x - y), checkpoints, `${name}'s checkpoints`);
      for (const s of checkpoints) assert.equal(hashes.get(s), pageHashes.get(s), `${name}'s hash at step ${s}`);
    }
    // Each peer heard the two others agree at the last checkpoint.
    assert.equal(pageHashEvents.at(-1)!.disagree, 0);

    // Every step of the daemons aggregated the browser's contribution, and the page aggregated theirs.
    const everyone = [browserId, ...keys.map((k) => k.peerId)].sort();
    for (const l of logs) {
      const steps = l.filter((x) => x.event === 'sync.step');
      assert.equal(steps.length, STEPS);
      for (const s of steps) assert.deepEqual(s.contributor_ids, everyone, `step ${String(s.step)}: contributors`);
    }
    const pageSteps = events.filter((e): e is Ev<'step'> => e.kind === 'step');
    assert.equal(pageSteps.length, STEPS);
    for (const s of pageSteps) assert.deepEqual(s.record.contributors, everyone);
    // The app passes on log lines from warn up only: any is a warning.
    assert.deepEqual(events.filter((e) => e.kind === 'log'), [], 'the page logged no warnings');

    // What the person at the page saw: the steps done, the final checkpoint, the bytes sent.
    const shown = await shownOf(page, ['state', 'step', 'checkpoint', 'contributors', 'bytes', 'held-out']);
    assert.deepEqual(shown.progress, [STEPS, STEPS], JSON.stringify(shown));
    assert.equal(shown.text.step, `${STEPS} of ${STEPS}`);
    assert.match(shown.text.state, new RegExp(`over at step ${STEPS}`));
    assert.ok(shown.text.checkpoint.startsWith(`step ${STEPS}: ${pageDone.hash.slice(0, 16)}`), JSON.stringify(shown));
    assert.match(shown.text.contributors, /^3: /);
    assert.ok(Number(shown.text.bytes.replace(/\D/g, '')) > 0, JSON.stringify(shown));
    assert.match(shown.text['held-out'], /^\d+\.\d\d % \(step 8\)$/);
  } finally {
    await page?.close();
    await (await web?.catch(() => null))?.stop();
    await c.close();
  }
});
