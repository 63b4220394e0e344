import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRunFile } from '../src/daemon/run-file.js';
import { webJoinOf } from '../src/web/join-of.js';
import { peerWebJoinOf } from '../src/web/peer-join-of.js';
import { servedRunOf } from '../src/commands/web-runs.js';
import { checkPeerRunFile } from '../src/peer/peer-run-file.js';
import { paramsHash } from '../src/peer/peer-role.js';
import { createTask } from '@fednode/core';
import { decodeShareFile, encodeShareFile } from '../src/browser-peer/share-file.js';

/** What a page is told about a run (webJoinOf), and the share file a page trains on. */

const WS = '/ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooWEaPpr9U6r7qxA8wdNuRpLH7NtHJ25vzFXM5FE6T7TVHz';

function run(over: Record<string, unknown> = {}): ReturnType<typeof checkRunFile> {
  return checkRunFile({
    run: 'web-join',
    seed: 3,
    task: { name: 'mlp', dataset: 'mnist', model: { hidden: 100 } },
    data: { partition: { kind: 'iid' }, shares: 2 },
    codec: { codec: 'int8', errorFeedback: true },
    strategy: { kind: 'fedavg', cohort: 2, deadlineS: 30 },
    rounds: 4,
    local: { epochs: 2, batch: 32, lr: 0.1, momentum: 0.5, schedule: 'cosine' },
    admission: { psk: { env: 'RUN_KEY' } },
    limits: { timeoutS: 7 },
    ...over,
  });
}

test('webJoinOf gives a page the run\'s model, codec and the local training the daemon trainers get', () => {
  const j = webJoinOf(run(), WS);
  assert.deepEqual(j, {
    kind: 'trainer',
    runId: 'web-join',
    aggregator: WS,
    seed: 3,
    rounds: 4,
    model: { hidden: 100, depth: 2 },
    codec: { codec: 'int8', errorFeedback: true },
    local: { optimizer: { kind: 'sgd', momentum: 0.5 }, lr: 0.1, batch: 32, budget: { epochs: 2 }, schedule: { kind: 'cosine', warmupSteps: 0 } },
    keyRequired: true,
    timeoutMs: 7000,
  });
  assert.equal(webJoinOf(run({ admission: 'open' }), WS).keyRequired, false);
});

test('webJoinOf refuses, saying why, what a browser trainer cannot do', () => {
  assert.throws(() => webJoinOf(run({ task: { name: 'cnn', dataset: 'mnist' } }), WS), /browser trainer trains task mlp on mnist; this run is cnn on mnist/);
  assert.throws(() => webJoinOf(run(), WS.replace('/ws', '')), /not a WebSocket multiaddr/);
  assert.throws(() => webJoinOf(run({ strategy: { kind: 'fedprox', mu: 0.01, cohort: 2, deadlineS: 30 } }), WS), /plain local training; strategy fedprox asks for more/);
});

test('a share file holds the rows as they were, and a damaged one is refused with the reason', () => {
  const rows = { name: 'r', count: 3, features: 4, classes: 10, x: Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5), y: Uint8Array.of(1, 9, 0) };
  const bytes = encodeShareFile(rows);
  assert.deepEqual(decodeShareFile(bytes, 'r'), rows);
  assert.throws(() => decodeShareFile(bytes.subarray(0, bytes.length - 1), 'cut.bin'), /cut\.bin is not a fednode share file: \d+ bytes for 3 rows of 4 features/);
  const bad = bytes.slice();
  bad[bad.length - 1] = 12;
  assert.throws(() => decodeShareFile(bad), /a label is not a digit/);
  assert.throws(() => decodeShareFile(new TextEncoder().encode('P5 not a share file')), /does not start with FNSH/);
});

const WS2 = '/ip4/127.0.0.1/tcp/4003/ws/p2p/12D3KooWEaPpr9U6r7qxA8wdNuRpLH7NtHJ25vzFXM5FE6T7TVHz';

function peerRun(over: Record<string, unknown> = {}): ReturnType<typeof checkPeerRunFile> {
  return checkPeerRunFile({
    run: 'web-peer',
    mode: 'decentralised',
    seed: 5,
    task: { name: 'mlp', dataset: 'mnist', model: { hidden: 16, depth: 1 } },
    data: { partition: { kind: 'iid' }, shares: 3 },
    sync: { algorithm: 'demo', steps: 30, batch: 16, lr: 0.01, minPeers: 3, hashEvery: 5, demo: { topk: 4 } },
    limits: { timeoutS: 7, lingerS: 2 },
    admission: { psk: { env: 'RUN_KEY' } },
    ...over,
  });
}

test('peerWebJoinOf gives a page the run\'s peer settings in numbers, the sync section and the initial parameters\' hash', () => {
  const j = peerWebJoinOf(peerRun(), [WS, WS2]);
  assert.deepEqual(j.settings, { runId: 'web-peer', steps: 30, timeoutMs: 10_000, minPeers: 3, hashEvery: 5, evalEvery: null, lingerMs: 2000 });
  assert.deepEqual(j.model, { hidden: 16, depth: 1 });
  assert.deepEqual(j.bootstrap, [WS, WS2]);
  assert.deepEqual(j.sync.demo, { topk: 4 });
  assert.equal(j.keyRequired, true);
  assert.equal(j.timeoutMs, 7000);
  const t = createTask('mlp', { dataset: 'mnist', model: { hidden: 16, depth: 1 } });
  assert.equal(j.initialHash, paramsHash(t.initialParams(5)));
});

test('peerWebJoinOf refuses what a browser peer cannot run, saying why', () => {
  assert.throws(() => peerWebJoinOf(peerRun({ task: { name: 'cnn', dataset: 'mnist' } }), [WS]), /mlp on mnist/);
  assert.throws(() => peerWebJoinOf(peerRun({ sync: { algorithm: 'diloco', steps: 30, batch: 16, lr: 0.01, diloco: { innerSteps: 5 } } }), [WS]), /DeMo/);
  assert.throws(() => peerWebJoinOf(peerRun({ admission: { allow: ['12D3KooWEaPpr9U6r7qxA8wdNuRpLH7NtHJ25vzFXM5FE6T7TVHz'] } }), [WS]), /allowlist/);
  assert.throws(() => peerWebJoinOf(peerRun(), []), /at least one peer/);
  assert.throws(() => peerWebJoinOf(peerRun(), ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWEaPpr9U6r7qxA8wdNuRpLH7NtHJ25vzFXM5FE6T7TVHz']), /WebSocket multiaddr/);
});

test('fednode web joins a federated run through --aggregator and a decentralised one through --peer, and says so in one line when given the other', () => {
  const fed = { mode: 'federated', run: run(), baseDir: '.' } as const;
  const dec = { mode: 'decentralised', run: peerRun(), baseDir: '.' } as const;
  assert.throws(() => servedRunOf('run.yaml', fed, { aggregator: WS, peer: [WS2] }), /^UsageError: run\.yaml is a federated run: the page joins it through its aggregator \(--aggregator\), not --peer$/);
  assert.throws(() => servedRunOf('peers.yaml', dec, { aggregator: WS, peer: [WS2] }), /^UsageError: peers\.yaml is a decentralised run \(mode: decentralised\): it has no aggregator; give its peers' WebSocket addresses with --peer$/);
  assert.throws(() => servedRunOf('peers.yaml', dec, { peer: [] }), /give a peer's WebSocket address: --peer/);
});
