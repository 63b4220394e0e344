/**
 * An aggregator's data directory after damage: a latest checkpoint with bytes flipped in the
 * middle is detected by its digest, named in the log, and the aggregator resumes from the
 * newest intact version; a version whose evaluation a crash cut off is evaluated at restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, freePort, mnistRun, readLog, waitForLog, within } from './cluster.js';

const LIMIT = { timeout: 180_000 };

test('aggregator recovery: a damaged latest checkpoint falls back to the newest intact version; an unevaluated version is evaluated at restart', LIMIT, async () => {
  const c = new Cluster('recovery');
  try {
    const agg = await c.key('agg');
    const t = await c.key('t0');
    const port = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    const run = c.writeRun('run', mnistRun('recovery', 1, { rounds: 2, data: { trainRows: 1000, testRows: 500, partition: { kind: 'iid' }, shares: 1 }, network: { aggregator: aggAddr } }));
    const aggArgs = ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`];
    const a = c.start('agg', aggArgs);
    const tr = c.start('t0', ['--config', run, '--role', 'trainer', '--key', t.path, '--data-dir', c.dataDir('t0'), '--shard', '0']);
    assert.equal((await within(a.exited, 90_000, 'the first run')).code, 0);
    await within(tr.exited, 30_000, 'the trainer');
    const ckpts = join(c.dataDir('agg'), 'aggregator', 'checkpoints');
    const v2 = join(ckpts, 'v00000002.safetensors');

    // 1. The version 2 evaluation is lost (as if the process died while scoring it): restart scores it.
    const history = join(c.dataDir('agg'), 'aggregator', 'history.jsonl');
    const lines = readFileSync(history, 'utf8').trim().split('\n');
    assert.equal(JSON.parse(lines.at(-1)!).version, 2);
    writeFileSync(history, lines.slice(0, -1).join('\n') + '\n');
    const again = c.start('agg-again', aggArgs);
    const rescored = await waitForLog(again.log, (ls) => ls.find((l) => l.event === 'version.evaluated' && l.version === 2), 60_000, 'version 2 to be evaluated after the restart');
    assert.ok((rescored.accuracy as number) > 0.5);
    assert.equal((await within(again.exited, 60_000, 'the second aggregator')).code, 0);

    // 2. 100 bytes flipped in the middle of the latest checkpoint: named, and version 1 is resumed.
    const bytes = readFileSync(v2);
    const mid = Math.floor(bytes.length / 2);
    for (let i = mid; i < mid + 100; i++) bytes[i] ^= 0xff;
    writeFileSync(v2, bytes);
    const third = c.start('agg-third', aggArgs);
    const fallback = await waitForLog(third.log, (ls) => ls.find((l) => l.event === 'checkpoint.fallback'), 60_000, 'the fallback');
    const log = readLog(third.log);
    const damaged = log.find((l) => l.event === 'checkpoint.damaged');
    assert.equal(damaged?.file, v2);
    assert.match(damaged?.reason as string, /SHA-256/);
    assert.equal(fallback.version, 1);
    await waitForLog(third.log, (ls) => ls.find((l) => l.event === 'aggregator.resumed' && l.version === 1), 30_000, 'the resume at version 1');
  } finally {
    await c.close();
  }
});
