/**
 * FedBuff's asynchronous path with real daemons: scenarios/run-mnist-fedbuff-psk.yaml (an
 * allowlist, the pre-shared key from $FEDNODE_PSK, data shares by peer id) with this test's
 * identities, fewer rows, and a buffer of 2 for 3 trainers, so the two quickest make each
 * version and the third's update lands, stale, in the next buffer. What it shows: the version
 * advances once per full buffer, each accepted update's staleness is the versions made since its
 * base, each version's mean staleness is its buffer's, and test accuracy rises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Cluster, freePort, readLog, waitForLog, within, type LogLine } from './cluster.js';

const LIMIT = { timeout: 180_000 };
const EXIT_MS = 120_000;
const VERSIONS = 12;
const K = 2;
const PSK = 'fedbuff-e2e-pre-shared-key-0123';

test('FedBuff daemons: 1 aggregator and 3 trainers, a version per buffer of K, staleness recorded, accuracy rises', LIMIT, async () => {
  const c = new Cluster('fedbuff');
  try {
    const agg = await c.key('agg');
    const keys = await Promise.all([0, 1, 2].map((i) => c.key(`t${i}`)));
    const port = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    const shipped = parse(readFileSync(fileURLToPath(new URL('../scenarios/run-mnist-fedbuff-psk.yaml', import.meta.url)), 'utf8')) as Record<string, any>;
    assert.equal(shipped.strategy.kind, 'fedbuff');
    const run = c.writeRun('run', {
      ...shipped,
      run: 'e2e-fedbuff',
      data: { ...shipped.data, trainRows: 6000, testRows: 2000, assign: Object.fromEntries(keys.map((k, i) => [k.peerId, i])) },
      strategy: { ...shipped.strategy, k: K },
      rounds: VERSIONS,
      admission: { ...shipped.admission, allow: keys.map((k) => k.peerId) },
      network: { ...shipped.network, aggregator: aggAddr },
      limits: { timeoutS: 10, pollS: 0.5, lingerS: 1 },
      threads: 1,
    });
    const env = { FEDNODE_PSK: PSK };
    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`], env);
    // No --shard: each trainer finds its share under data.assign by its peer id.
    const ts = keys.map((k, i) => c.start(`t${i}`, ['--config', run, '--role', 'trainer', '--key', k.path, '--data-dir', c.dataDir(`t${i}`)], env));
    await waitForLog(a.log, (l) => l.find((x) => x.event === 'node.started'), 60_000, 'the aggregator to start');

    assert.equal((await within(a.exited, EXIT_MS, 'the aggregator to finish')).code, 0, 'the aggregator exits 0');
    for (const p of ts) assert.equal((await within(p.exited, EXIT_MS, p.name)).code, 0, `${p.name} exits 0`);
    ts.forEach((p, i) => assert.equal(readLog(p.log).find((l) => l.event === 'trainer.ready')?.shard, i, `${p.name} took share ${i} from data.assign`));

    // Walk the aggregator's log in order: accepted updates fill a buffer, a full one makes a version.
    const lines = readLog(a.log).filter((l) => ['update.accepted', 'round.closed', 'version.evaluated', 'update.refused'].includes(l.event));
    let version = 0;
    let buffer: LogLine[] = [];
    const stalenesses: number[] = [];
    const versions: number[] = [];
    for (const l of lines) {
      if (l.event === 'update.accepted') {
        assert.equal(l.staleness, version - (l.base_version as number), `staleness of ${l.peer}'s update at version ${version}`);
        assert.equal(l.round, version, 'an update joins the buffer of the version being made');
        buffer.push(l);
        stalenesses.push(l.staleness as number);
      } else if (l.event === 'round.closed') {
        version++;
        versions.push(l.version as number);
        assert.equal(l.version, version);
        assert.equal(buffer.length, K, `version ${version} made from a full buffer`);
        assert.equal(l.participants, K);
        assert.deepEqual([...(l.peers as string[])].sort(), buffer.map((b) => b.peer as string).sort());
        const mean = buffer.reduce((n, b) => n + (b.staleness as number), 0) / K;
        assert.ok(Math.abs((l.mean_staleness as number) - mean) < 1e-12, `version ${version}: mean staleness ${l.mean_staleness}, its buffer's ${mean}`);
        buffer = [];
      }
    }
    assert.deepEqual(versions, Array.from({ length: VERSIONS }, (_, i) => i + 1));
    // A trainer whose late update joined the next buffer waits for the version after it, and a
    // full buffer never turns the next update away: nothing is refused until the run is over.
    const refusals = lines.filter((l) => l.event === 'update.refused').map((l) => l.code);
    assert.ok(refusals.every((code) => code === 'RUN_COMPLETE'), `refused: ${refusals.join(', ')}`);
    const senders = new Set(lines.filter((l) => l.event === 'update.accepted').map((l) => l.peer));
    assert.equal(senders.size, 3, 'every trainer contributed');
    // Three trainers and buffers of two: someone's update is always computed from an older version.
    assert.ok(stalenesses.some((s) => s >= 1), `some update was stale: ${stalenesses.join(', ')}`);

    const acc = lines.filter((l) => l.event === 'version.evaluated').map((l) => l.accuracy as number);
    process.stdout.write(`# fedbuff: accuracy by version ${acc.map((x) => x.toFixed(4)).join(', ')}; staleness by update ${stalenesses.join(', ')}\n`);
    assert.equal(acc.length, VERSIONS);
    // Two non-IID shares (Dirichlet 0.5) make each version, so the curve wobbles: compare its ends.
    const mean = (xs: number[]) => xs.reduce((n, x) => n + x, 0) / xs.length;
    const [first, last] = [mean(acc.slice(0, 3)), mean(acc.slice(-3))];
    assert.ok(last - first >= 0.08, `accuracy rises: the first three versions average ${first.toFixed(4)}, the last three ${last.toFixed(4)} (${acc.join(', ')})`);
    assert.ok(acc[VERSIONS - 1] >= 0.7, `final accuracy ${acc[VERSIONS - 1]}`);
  } finally {
    await c.close();
  }
});
