import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, freePort, mnistRun, readLog, waitForLog, within } from '../cluster.js';
import { noChromium, openPage, type OpenPage } from './chromium.js';
import { cutProxy, type CutProxy } from './cut-proxy.js';
import { appState, fednodeWeb, joinedPeer, onAppEvent, type PageEvent } from './web-app.js';

/**
 * A browser trainer whose network goes away for 30 s in the middle of a round and comes back:
 * the aggregator (a real daemon) sits behind a TCP forwarder that the test cuts just after the
 * page pulled round 1's model, so the page trains, encodes its update and finds no one to give
 * it to. It keeps the update (and the residual it was encoded from) until the link is back,
 * delivers it, and goes on: every round's update is accepted with consecutive sequence numbers.
 */

const PSK = 'reconnect-pre-shared-key-0123456789';
const CUT_MS = 30_000;
const ROUNDS = 3;

test('a browser peer cut off for 30 s mid-round loses no accepted update and no residual', { skip: noChromium, timeout: 180_000 }, async () => {
  const c = new Cluster('browser-reconnect');
  let page: OpenPage | null = null;
  let stopWeb: (() => Promise<void>) | null = null;
  let proxy: CutProxy | null = null;
  try {
    const agg = await c.key('agg');
    writeFileSync(join(c.dir, 'psk'), PSK + '\n', { mode: 0o600 });
    const wsPort = await freePort();
    const runPath = c.writeRun(
      'run',
      mnistRun('browser-reconnect', 1, {
        admission: { psk: { file: 'psk' } },
        data: { trainRows: 2000, testRows: 1000, partition: { kind: 'iid' }, shares: 1 },
        // The round waits for the browser longer than the cut lasts.
        strategy: { kind: 'fedavg', cohort: 1, deadlineS: 120, minParticipants: 1 },
        // Three epochs over the page's 1000 rows: training outlasts the few milliseconds the cut takes to land.
        local: { epochs: 3, batch: 64, lr: 0.05, momentum: 0.9 },
        rounds: ROUNDS,
        // After the last version the aggregator serves on long enough for the page, whose gossip
        // may not have re-formed since the cut, to hear by its status poll that the run is done.
        limits: { timeoutS: 10, pollS: 0.5, lingerS: 10 },
      }),
    );
    const a = c.start('agg', ['--config', runPath, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${wsPort}/ws`]);
    await waitForLog(a.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, 'the aggregator to start');
    proxy = await cutProxy(wsPort);
    const web = await fednodeWeb(['--config', runPath, '--aggregator', `/ip4/127.0.0.1/tcp/${proxy.port}/ws/p2p/${agg.peerId}`, '--port', '0', '--rows', '2000:3000']);
    stopWeb = web.stop;
    page = await openPage(`${web.url}#key=${PSK}`);
    const peerId = await joinedPeer(page);
    const p = page;
    const events = async (): Promise<PageEvent[]> => (await p.page.evaluate(appState)).events;

    // Cut as soon as the page has round 1's model (the app calls us as it hears it): the update it trains cannot leave.
    let pulled1!: () => void;
    const cutDone = new Promise<void>((resolve) => (pulled1 = resolve));
    await onAppEvent(p, (e) => {
      if (e.kind === 'pulled' && e.round === 1) void proxy?.cut().then(pulled1);
    });
    await within(cutDone, 90_000, 'the page to pull round 1');
    const cutAt = Date.now();
    const before = await p.page.evaluate(appState);
    assert.equal(before.events.filter((e) => e.kind === 'pushed' && e.round === 1).length, 0, 'the cut came before round 1 was pushed');
    assert.ok(before.saved !== null && before.saved.lastRound === 0 && before.saved.residual !== null, 'round 0 was delivered and its residual saved');
    await new Promise((r) => setTimeout(r, CUT_MS));
    const during = await p.page.evaluate(appState);
    assert.ok(during.saved !== null && during.saved.lastRound === 0, 'nothing was given up during the cut');
    assert.equal(during.events.filter((e) => e.kind === 'pushed' && e.round === 1).length, 0, 'no push got through the cut');
    assert.ok(during.events.some((e) => e.kind === 'unreachable'), 'the page noticed the aggregator was gone');
    await proxy.restore();
    const restoredAt = Date.now();

    const end = Date.now() + 90_000;
    let last: PageEvent[] = [];
    while (!(last = await events()).some((e) => e.kind === 'done')) {
      assert.ok(Date.now() < end, `the run did not finish after the cut: ${JSON.stringify(last.filter((e) => e.kind === 'pushed' || e.kind === 'missed' || e.kind === 'refused'))}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(restoredAt - cutAt >= CUT_MS);
    const bad = last.filter((e) => e.kind === 'missed' || e.kind === 'refused');
    assert.deepEqual(bad, [], 'no round was missed or refused');
    const pushed = last.filter((e): e is Extract<PageEvent, { kind: 'pushed' }> => e.kind === 'pushed');
    assert.deepEqual(pushed.map((e) => [e.round, e.sequence, e.outcome]), [[0, 0, 'accepted'], [1, 1, 'accepted'], [2, 2, 'accepted']]);
    const after = (await p.page.evaluate(appState)).saved;
    assert.ok(after !== null && after.nextSequence === ROUNDS && after.lastRound === ROUNDS - 1 && after.residual !== null);
    // The residual moved on from round 0's: round 1's update was encoded from it and delivered.
    assert.notDeepEqual(after.residual, before.saved.residual);

    const accepted = readLog(a.log).filter((l) => l.event === 'update.accepted');
    assert.deepEqual(accepted.map((l) => [l.peer, l.round, l.sequence]), [0, 1, 2].map((r) => [peerId, r, r]), 'the aggregator accepted each round\'s update once, in sequence');
  } finally {
    await page?.close();
    await stopWeb?.();
    await proxy?.close();
    await c.close();
  }
});
