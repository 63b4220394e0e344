import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, freePort, mnistRun, readLog, waitForLog, type LogLine } from '../cluster.js';
import { noChromium, openPage, type OpenPage } from './chromium.js';
import { appState, fednodeWeb, joinedPeer, type PageEvent } from './web-app.js';

/**
 * A browser trainer in a real run: a `fednode start` aggregator listens on TCP and WebSockets,
 * two `fednode start` trainers join over TCP, the run needs its pre-shared key (private network
 * and /fednode/auth/1), and headless Chromium joins with the key, pulls each round's model over
 * WebSockets, trains its own MNIST rows on onnxruntime-web, and pushes int8 updates with error
 * feedback. The round's cohort is all three, so no version can be made without the browser.
 * The browser runs the example app (examples/browser) as `fednode web` serves it: opening its
 * URL with #key=… is all it takes to join.
 */

const PSK = 'browser-pre-shared-key-0123456789';
const ROUNDS = 3;

test('1 aggregator, 2 Node trainers and 1 browser trainer: the browser is admitted with the key, every version includes its int8 update, accuracy rises each version', { skip: noChromium, timeout: 150_000 }, async () => {
  const c = new Cluster('browser-trainer');
  let page: OpenPage | null = null;
  let stopWeb: (() => Promise<void>) | null = null;
  try {
    const agg = await c.key('agg');
    const trainers = [await c.key('t0'), await c.key('t1')];
    writeFileSync(join(c.dir, 'psk'), PSK + '\n', { mode: 0o600 });
    const [tcpPort, wsPort] = [await freePort(), await freePort()];
    const runPath = c.writeRun(
      'run',
      mnistRun('browser-run', 2, {
        admission: { psk: { file: 'psk' } },
        network: { aggregator: `/ip4/127.0.0.1/tcp/${tcpPort}/p2p/${agg.peerId}` },
        data: { trainRows: 4000, testRows: 2000, partition: { kind: 'iid' }, shares: 2 },
        strategy: { kind: 'fedavg', cohort: 3, deadlineS: 60, minParticipants: 3 },
        rounds: ROUNDS,
      }),
    );
    const a = c.start('agg', ['--config', runPath, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${tcpPort}`, '--listen', `/ip4/127.0.0.1/tcp/${wsPort}/ws`]);
    const started = await waitForLog(a.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, 'the aggregator to start');
    const ws = (started.addrs as string[]).find((x) => x.includes('/ws/'));
    assert.ok(ws !== undefined, `the aggregator listens on WebSockets: ${JSON.stringify(started.addrs)}`);
    trainers.forEach((t, i) => c.start(`t${i}`, ['--config', runPath, '--role', 'trainer', '--key', t.path, '--data-dir', c.dataDir(`t${i}`), '--shard', String(i)]));

    const web = await fednodeWeb(['--config', runPath, '--aggregator', ws, '--port', '0', '--rows', '6000:6600']);
    stopWeb = web.stop;
    page = await openPage(`${web.url}#key=${PSK}`);
    const peerId = await joinedPeer(page);

    // The run ends when its versions are made: each needs the browser's update.
    const deadline = Date.now() + 90_000;
    let events: PageEvent[] = [];
    for (;;) {
      events = (await page.page.evaluate(appState)).events;
      if (events.some((e) => e.kind === 'done')) break;
      const bad = events.find((e) => e.kind === 'refused' || e.kind === 'missed');
      assert.equal(bad, undefined, `the browser trainer: ${JSON.stringify(bad)}`);
      assert.ok(Date.now() < deadline, `the run did not finish; page events: ${[...new Set(events.filter((e) => e.kind !== 'step' && e.kind !== 'status').map((e) => JSON.stringify(e)))].join('\n').slice(0, 3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const pushed = events.filter((e): e is Extract<PageEvent, { kind: 'pushed' }> => e.kind === 'pushed');
    assert.deepEqual(pushed.map((e) => [e.round, e.outcome]), [[0, 'accepted'], [1, 'accepted'], [2, 'accepted']]);
    // int8 with error feedback: about a quarter of fp32's 4 bytes per parameter (199,210 of them).
    for (const p of pushed) assert.ok(p.bytes > 199_210 && p.bytes < 2 * 199_210, `update of ${p.bytes} bytes`);
    const saved = (await page.page.evaluate(appState)).saved;
    assert.ok(saved !== null && saved.nextSequence === ROUNDS && saved.lastRound === ROUNDS - 1 && saved.residual !== null, `saved state ${JSON.stringify(saved && { ...saved, residual: saved.residual?.length })}`);

    const log: LogLine[] = readLog(a.log);
    const accepted = log.filter((l) => l.event === 'update.accepted');
    for (let r = 0; r < ROUNDS; r++) {
      const peers = accepted.filter((l) => l.round === r).map((l) => l.peer as string).sort();
      assert.deepEqual(peers, [peerId, ...trainers.map((t) => t.peerId)].sort(), `round ${r}: the aggregator accepted the browser's and both trainers' updates`);
    }
    const evaluated = log.filter((l) => l.event === 'version.evaluated').map((l) => l.accuracy as number);
    assert.equal(evaluated.length, ROUNDS);
    for (let v = 1; v < ROUNDS; v++) assert.ok(evaluated[v] > evaluated[v - 1], `accuracy by version: ${evaluated.join(', ')}`);
    assert.ok(evaluated[0] > 0.5, `accuracy by version: ${evaluated.join(', ')}`);
  } finally {
    await page?.close();
    await stopWeb?.();
    await c.close();
  }
});
