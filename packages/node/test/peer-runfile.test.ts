import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { checkPeerRunFile, loadPeerRunFile } from '../src/peer/peer-run-file.js';
import { Roster } from '../src/peer/roster.js';

const ok = () => parse(readFileSync(new URL('../../../scenarios/run-sotu-demo.yaml', import.meta.url), 'utf8')) as Record<string, unknown> & { sync: Record<string, unknown>; task: { name: string; dataset: string; model: Record<string, unknown> }; data: Record<string, unknown> };

test('the example decentralised run files load', () => {
  for (const f of ['run-sotu-demo.yaml', 'run-sotu-diloco.yaml', 'run-sotu-diloco-warm.yaml']) {
    const { run } = loadPeerRunFile(new URL(`../../../scenarios/${f}`, import.meta.url).pathname);
    assert.equal(run.mode, 'decentralised');
    assert.equal(run.data.shares, 4);
  }
});

test('bad decentralised run files are refused with the path of each problem', () => {
  const bad = (edit: (r: ReturnType<typeof ok>) => void, re: RegExp) => {
    const r = ok();
    edit(r);
    assert.throws(() => checkPeerRunFile(r), re);
  };
  bad((r) => (r.sync.algorithm = 'gossip'), /sync\.algorithm: must be one of "demo", "diloco"/);
  bad((r) => (r.sync.steps = 0), /sync\.steps: must be >= 1/);
  bad((r) => (r.sync.colour = 'red'), /sync: unknown key "colour"/);
  bad((r) => (r.task.model.dModel = 'wide'), /task\.model\.dModel: must be integer/);
  bad((r) => (r.task.dataset = 'mnist'), /task\.dataset: transformer trains on sotu or moby-dick, not mnist/);
  bad((r) => (r.task.dataset = 'moby-dick'), /data\.partition: transformer on moby-dick has iid, not natural/);
  bad((r) => (r.task.name = 'resnet'), /task\.name: must be one of "mlp", "cnn", "transformer", "moe-transformer"/);
  // The form before tasks is refused with what to write instead.
  bad((r) => {
    const { task } = r as { task?: { model: Record<string, unknown> } };
    delete (r as { task?: unknown }).task;
    (r as Record<string, unknown>).model = { kind: 'transformer', ...task!.model };
    r.data.dataset = 'sotu';
  }, /old decentralised run-file form: replace "model: \{ kind: transformer, \.\.\. \}" and "data\.dataset: sotu" with "task: \{ name: transformer, dataset: sotu, model: \{ seqLen: 64/);
  bad((r) => (r.sync.algorithm = 'diloco'), /sync\.diloco \(with innerSteps\) is required/);
  bad((r) => (r.sync.demo = { beta: 1 }), /sync\.demo\.beta: must be < 1/);
  bad((r) => {
    r.sync.algorithm = 'diloco';
    delete r.sync.demo;
    r.sync.diloco = { innerSteps: 5000 };
  }, /fewer than one outer step/);
  bad((r) => {
    r.sync.algorithm = 'diloco';
    delete r.sync.demo;
    r.sync.diloco = { innerSteps: 10, codec: 'int3' };
  }, /sync\.diloco\.codec: must be one of "int8", "int4"/);
});

test('a decentralised run says who may join: a key or a list, or admission: open in so many words', () => {
  const without = ok();
  delete (without as { admission?: unknown }).admission;
  assert.throws(() => checkPeerRunFile(without), /admission: say who may take part \(admission: \{ psk: \{ env: NAME \} \} and\/or \{ allow: \[peer ids\] \}\), or write "admission: open"/);
  assert.throws(() => checkPeerRunFile({ ...ok(), admission: {} }), /admission: say who may take part/);
  assert.equal(checkPeerRunFile({ ...ok(), admission: 'open' }).admission, 'open', 'open, said in so many words');
  // A checked document checks again (createPeerNode takes parsed ones too).
  assert.equal(checkPeerRunFile(checkPeerRunFile({ ...ok(), admission: 'open' })).admission, 'open');
  assert.throws(() => checkPeerRunFile({ ...ok(), admission: 'anyone' }), /admission/);
  assert.deepEqual(checkPeerRunFile(ok()).admission, { psk: { env: 'FEDNODE_PSK' } }, 'the shipped example uses a key');
});

test('a decentralised run trains any task: an MLP on MNIST shares', () => {
  const r = ok();
  r.task = { name: 'mlp', dataset: 'mnist', model: {} };
  r.data.partition = { kind: 'iid' };
  assert.equal(checkPeerRunFile(r).task.name, 'mlp');
});

test('the roster waits for members from the step they join at, and forgets dropped ones', () => {
  const r = new Roster('me');
  r.join('me', 0);
  r.join('b', 0);
  r.join('a', 5);
  assert.deepEqual(r.expected(0), ['b']);
  assert.deepEqual(r.expected(5), ['a', 'b']);
  r.drop('b');
  assert.deepEqual(r.expected(9), ['a']);
  assert.deepEqual(r.all(), ['a', 'me']);
});
