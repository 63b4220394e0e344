/**
 * `fednode start` reads one run document for every role: its mode picks the runtime, a role
 * the document has no place for is refused in one line, and a simulator scenario runs on a
 * daemon as it is (the population is the simulator's, and the daemon ignores it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, fednodeSync, freePort, mnistRun, readLog, waitForLog } from './cluster.js';

const scenario = (name: string) => fileURLToPath(new URL(`../scenarios/${name}`, import.meta.url));

test('fednode start: mode picks the runtime; a role the document has no place for is one line and exit 1', () => {
  const peerOnFederated = fednodeSync(['start', '--config', scenario('run-mnist-fedavg.yaml'), '--role', 'peer', '--shard', '0']);
  assert.equal(peerOnFederated.status, 1);
  assert.equal(peerOnFederated.stderr.trim(), `fednode: ${scenario('run-mnist-fedavg.yaml')} is a federated run (no mode: decentralised): start it with --role aggregator, trainer or both`);
  const trainerOnDecentralised = fednodeSync(['start', '--config', scenario('run-sotu-demo.yaml'), '--role', 'trainer']);
  assert.equal(trainerOnDecentralised.status, 1);
  assert.match(trainerOnDecentralised.stderr, /is a decentralised run \(mode: decentralised\): it has no trainer; start it with --role peer\n$/);
});

test('fednode start on a simulator scenario: the aggregator opens its first round from the same document', { timeout: 60_000 }, async () => {
  const c = new Cluster('start-scenario');
  try {
    const a = c.start('agg', ['--config', scenario('quickstart.yaml'), '--role', 'aggregator', '--data-dir', c.dataDir('agg'), '--listen', '/ip4/127.0.0.1/tcp/0']);
    const opened = await waitForLog(a.log, (ls) => ls.find((l) => l.event === 'round.opened'), 45_000, 'the first round');
    assert.equal(opened.round, 0);
    const init = readLog(a.log).find((l) => l.event === 'aggregator.initialised');
    assert.deepEqual([init?.parameters, init?.strategy], [199210, 'fedavg']);
  } finally {
    await c.close();
  }
});

test('fednode status answers members only: the run key admits the operator; without it there is no connection, and off the allowlist no answer', { timeout: 90_000 }, async () => {
  const c = new Cluster('status-members');
  try {
    const agg = await c.key('agg');
    const operator = await c.key('operator');
    const stranger = await c.key('stranger');
    writeFileSync(join(c.dir, 'psk'), 'status-members-pre-shared-key-0123\n', { mode: 0o600 });
    const port = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    // No trainer ever comes: the aggregator waits in round 0 for as long as the test needs.
    const run = c.writeRun('run', mnistRun('status-members', 2, { admission: { allow: [agg.peerId, operator.peerId], psk: { file: 'psk' } }, network: { aggregator: aggAddr } }));
    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
    await waitForLog(a.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, 'the aggregator to start');
    const member = fednodeSync(['status', '--connect', aggAddr, '--config', run, '--key', operator.path, '--json']);
    assert.equal(member.status, 0, member.stderr);
    assert.equal((JSON.parse(member.stdout) as { runId: string }).runId, 'status-members');
    const keyless = fednodeSync(['status', '--connect', aggAddr, '--json', '--timeout', '3']);
    assert.equal(keyless.status, 1, 'no key: the private network never lets it in');
    assert.doesNotMatch(keyless.stdout, /status-members/);
    const unlisted = fednodeSync(['status', '--connect', aggAddr, '--config', run, '--key', stranger.path, '--json', '--timeout', '3']);
    assert.equal(unlisted.status, 1, 'the key but not on the allowlist: the connection is closed');
    assert.doesNotMatch(unlisted.stdout, /status-members/);
    assert.equal(a.child.exitCode, null, 'the aggregator runs on');
  } finally {
    await c.close();
  }
});
