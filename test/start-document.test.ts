/**
 * `fednode start` reads one run document for every role: its mode picks the runtime, a role
 * the document has no place for is refused in one line, and a simulator scenario runs on a
 * daemon as it is (the population is the simulator's, and the daemon ignores it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Cluster, fednodeSync, readLog, waitForLog } from './cluster.js';

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
