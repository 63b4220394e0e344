/**
 * A trainer started before its aggregator (or cut off from it) says so and keeps trying: it
 * logs `aggregator.unreachable` with the reason, its status says what it waits for, and once
 * the aggregator is up it logs `aggregator.reachable` and contributes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, fednodeSync, freePort, mnistRun, readLog, waitForLog, within } from './cluster.js';

test('a trainer whose aggregator is not up says so, keeps retrying, and joins once it is', { timeout: 180_000 }, async () => {
  const c = new Cluster('unreachable');
  try {
    const agg = await c.key('agg');
    const t = await c.key('t0');
    const port = await freePort();
    const tport = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    const run = c.writeRun('run', mnistRun('unreachable', 1, { rounds: 1, data: { trainRows: 1000, testRows: 500, partition: { kind: 'iid' }, shares: 1 }, strategy: { kind: 'fedavg', cohort: 1 }, network: { aggregator: aggAddr } }));
    const trainer = c.start('t0', ['--config', run, '--role', 'trainer', '--key', t.path, '--data-dir', c.dataDir('t0'), '--shard', '0', '--listen', `/ip4/127.0.0.1/tcp/${tport}`]);
    const said = await waitForLog(trainer.log, (ls) => ls.find((l) => l.event === 'aggregator.unreachable'), 60_000, 'the trainer to say the aggregator is unreachable');
    assert.equal(said.level, 'warn');
    assert.equal(said.aggregator, agg.peerId);
    assert.ok(typeof said.reason === 'string' && (said.reason as string).length > 0);
    const status = fednodeSync(['status', '--connect', `/ip4/127.0.0.1/tcp/${tport}/p2p/${t.peerId}`, '--json']);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /the aggregator is unreachable/);
    assert.equal(trainer.child.exitCode, null, 'the trainer keeps running');

    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
    await waitForLog(trainer.log, (ls) => ls.find((l) => l.event === 'aggregator.reachable'), 60_000, 'the trainer to reach the aggregator');
    assert.equal((await within(a.exited, 90_000, 'the aggregator')).code, 0);
    assert.equal((await within(trainer.exited, 60_000, 'the trainer')).code, 0);
    assert.ok(readLog(trainer.log).some((l) => l.event === 'update.pushed'), 'the trainer contributed once the aggregator was up');
  } finally {
    await c.close();
  }
});
