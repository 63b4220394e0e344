import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFileProblem } from './runfile-helpers.js';
import { fullSlice, models, resolveSlice, type Slice } from '@fednode/core';
import { DaemonError, SlicePolicy, runFileFromYaml, trainerSlice as sliceOf, type RunFile } from '../src/daemon/index.js';
import { taskOf } from '../src/daemon/run-file.js';

const SUPERNET = models.MNIST_MLP_SUPERNET;
const trainerSlice = (run: RunFile, who: Parameters<typeof sliceOf>[2]) => sliceOf(run, taskOf(run), who);

/**
 * Slices in run files: the schema and its rules, which slice a trainer takes (peer id, name,
 * capability, default), and what the aggregator lets each peer push.
 */

const PEER_A = '12D3KooWPeerAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const PEER_B = '12D3KooWPeerBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

const HETERO = `
run: hetero
seed: 1
task: { name: mlp, dataset: mnist }
data: { partition: { kind: iid }, shares: 3 }
slices:
  capabilities: { full: { width: 1 }, small: { width: 0.5 }, tiny: { width: 0.25 } }
  peers:
    ${PEER_A}: tiny
    phone: small
codec: { codec: int8 }
strategy: { kind: fedavg, cohort: 3, weighting: uniform }
rounds: 3
local: { epochs: 1, batch: 32, lr: 0.05 }
`;

const problem = runFileProblem;

const specs = models.mlpSupernetSpecs(SUPERNET);
const widthSlice = (width: number): Slice => models.mlpSubnetSlice(SUPERNET, { width });

test('slices in a run file: unknown keys, wrong types, impossible values and dangling capabilities name their path', () => {
  const run = runFileFromYaml(HETERO);
  assert.equal(run.slices?.capabilities?.small.width, 0.5);
  assert.match(problem(HETERO.replace('small: { width: 0.5 }', 'small: { width: 0.5, colour: red }')), /slices\.capabilities\.small: unknown key "colour"/);
  assert.match(problem(HETERO.replace('small: { width: 0.5 }', 'small: { width: half }')), /slices\.capabilities\.small\.width: must be number/);
  assert.match(problem(HETERO.replace('small: { width: 0.5 }', 'small: { width: 1.5 }')), /slices\.capabilities\.small\.width: must be <= 1/);
  assert.match(problem(HETERO.replace('small: { width: 0.5 }', 'small: { width: 0 }')), /slices\.capabilities\.small\.width: must be > 0/);
  assert.match(problem(HETERO.replace('small: { width: 0.5 }', 'small: { width: 0.5, depth: 3 }')), /slices\.capabilities\.small: depth 3 is not in \[1, 2\]/);
  assert.match(problem(HETERO.replace('phone: small', 'phone: huge')), /slices\.peers\.phone: no capability "huge" under slices\.capabilities \(known: full, small, tiny\)/);
  assert.match(problem(HETERO + 'extra: 1\n'), /\(top level\): unknown key "extra"/);
  assert.match(problem(HETERO.replace('slices:', 'slices:\n  enforce: true')), /slices: unknown key "enforce"/);
  assert.match(problem(HETERO.replace('name: mlp', 'name: cnn')), /slices\.capabilities\.small: width does not apply: cnn is trained whole \(it has no slices\)/);
  assert.match(problem(HETERO.replace('small: { width: 0.5 }', 'small: { experts: [0, 1] }')), /slices\.capabilities\.small: experts does not apply: mlp slices by width, depth/);
  assert.match(problem(HETERO.replace('weighting: uniform', 'robust: { kind: median }')), /strategy\.robust and strategy\.dp cannot combine/);
});

test('a trainer takes its peer id entry, then its name, then its capability, then the default', () => {
  const run = runFileFromYaml(HETERO);
  const byId = trainerSlice(run, { peerId: PEER_A, name: 'phone' });
  assert.equal(byId.label, 'width 0.25');
  assert.equal(byId.source, 'capability tiny');
  assert.deepEqual(byId.slice, widthSlice(0.25));
  assert.equal(trainerSlice(run, { peerId: PEER_B, name: 'phone' }).label, 'width 0.5');
  assert.equal(trainerSlice(run, { peerId: PEER_B, capability: 'tiny' }).label, 'width 0.25');
  // Width 1 is the whole model: nothing to cut, the update holds every tensor whole.
  const whole = trainerSlice(run, { peerId: PEER_B });
  assert.equal(whole.label, 'the whole model');
  assert.equal(whole.slice, null);
  const withDefault: RunFile = { ...run, slices: { ...run.slices, default: { width: 0.5, depth: 1 } } };
  const d = trainerSlice(withDefault, { peerId: PEER_B });
  assert.equal(d.label, 'width 0.5, depth 1');
  assert.equal(d.source, 'slices.default');
  assert.throws(() => trainerSlice(run, { peerId: PEER_A, capability: 'small' }), /--capability small \(width 0\.5\) contradicts slices\.peers\.12D3KooWPeerA+ \(width 0\.25\)/);
  assert.throws(() => trainerSlice(run, { peerId: PEER_B, capability: 'medium' }), (e: unknown) => e instanceof DaemonError && e.code === 'DAEMON_CONFIG' && /known: full, small, tiny/.test(e.message));
  const plain = runFileFromYaml(HETERO.replace(/slices:[\s\S]*?codec:/, 'codec:'));
  assert.equal(trainerSlice(plain, { peerId: PEER_B }).slice, null);
  assert.throws(() => trainerSlice(plain, { peerId: PEER_B, capability: 'small' }), /the run file has no slices section, so every trainer trains mlp whole/);
});

test('slices.byShare: the trainer of share i takes byShare[i mod n] unless slices.peers names it; the aggregator accepts each entry', () => {
  const run = runFileFromYaml(HETERO.replace('    phone: small\n', '    phone: small\n  byShare: [full, { width: 0.3 }]\n'));
  assert.equal(trainerSlice(run, { peerId: PEER_B, share: 0 }).label, 'the whole model');
  const odd = trainerSlice(run, { peerId: PEER_B, share: 1 });
  assert.deepEqual([odd.label, odd.source], ['width 0.3', 'slices.byShare[1]']);
  assert.equal(trainerSlice(run, { peerId: PEER_B, share: 2 }).label, 'the whole model', 'share 2 wraps round to byShare[0]');
  assert.equal(trainerSlice(run, { peerId: PEER_A, share: 1 }).label, 'width 0.25', 'a peer id entry wins');
  assert.equal(trainerSlice(run, { peerId: PEER_B, name: 'phone', share: 1 }).label, 'width 0.5', 'a name entry wins');
  assert.throws(() => trainerSlice(run, { peerId: PEER_B, share: 1, capability: 'small' }), /--capability small \(width 0\.5\) contradicts slices\.byShare\[1\] \(width 0\.3\)/);
  const policy = new SlicePolicy(run, taskOf(run), specs);
  assert.ok(policy.check(PEER_B, resolveSlice(widthSlice(0.3), specs)).ok, 'a byShare entry is a slice the run names');
  assert.match(problem(HETERO.replace('    phone: small\n', '    phone: small\n  byShare: [huge]\n')), /slices\.byShare\[0\]: no capability "huge" under slices\.capabilities/);
});

test('the aggregator holds a peer listed by id to its slice, and any other peer to the slices the run file names', () => {
  const run = runFileFromYaml(HETERO);
  const policy = new SlicePolicy(run, taskOf(run), specs);
  const r = (width: number) => resolveSlice(width === 1 ? fullSlice(specs) : widthSlice(width), specs);

  const ok = policy.check(PEER_A, r(0.25));
  assert.ok(ok.ok && ok.slice.label === 'width 0.25');
  const wrong = policy.check(PEER_A, r(0.5));
  assert.ok(!wrong.ok);
  assert.equal(wrong.reason, `${PEER_A} is assigned width 0.25 (capability tiny); the update holds width 0.5 (capability small)`);

  // An unlisted peer may say it is small, tiny or whole, but not invent a width.
  for (const w of [1, 0.5, 0.25]) assert.ok(policy.check(PEER_B, r(w)).ok, `width ${w}`);
  const odd = policy.check(PEER_B, r(0.3));
  assert.ok(!odd.ok);
  assert.equal(
    odd.reason,
    'the update holds a slice the run file does not name (fc1.weight [60, 784], fc1.bias [60], fc2.weight [60, 60], fc2.bias [60], head.weight [10, 60], head.bias [10]); ' +
      'a peer not listed by peer id under slices.peers may train the whole model (no assignment), width 0.5 (capability small), width 0.25 (capability tiny)',
  );
  // FedRolex's rolling window holds as many units as width 0.5, but other ones.
  const rolled = resolveSlice(models.mlpSubnetSlice(SUPERNET, { width: 0.5 }, { mode: 'fedrolex', round: 3 }), specs);
  assert.ok(!policy.check(PEER_B, rolled).ok);
  assert.deepEqual(policy.partial().map((a) => a.label), ['width 0.5', 'width 0.25']);

  // A run without slices takes whole-model updates only.
  const plain = runFileFromYaml(HETERO.replace(/slices:[\s\S]*?codec:/, 'codec:'));
  const p = new SlicePolicy(plain, taskOf(plain), specs);
  assert.ok(p.check(PEER_A, r(1)).ok);
  const cut = p.check(PEER_A, r(0.5));
  assert.ok(!cut.ok);
  assert.match(cut.reason, /may train the whole model \(no assignment\)$/);
});
