import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRunFile } from '../src/daemon/run-file.js';
import { webJoinOf } from '../src/web/join-of.js';
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
