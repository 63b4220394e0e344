import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { checkPeerRunFile, loadPeerRunFile } from '../src/peer/peer-run-file.js';
import { Roster } from '../src/peer/roster.js';

const ok = () => parse(readFileSync(new URL('../../../scenarios/run-sotu-demo.yaml', import.meta.url), 'utf8')) as Record<string, unknown> & { sync: Record<string, unknown>; model: Record<string, unknown> };

test('the example decentralised run files load', () => {
  for (const f of ['run-sotu-demo.yaml', 'run-sotu-diloco.yaml']) {
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
  bad((r) => (r.model.dModel = 'wide'), /model\.dModel: must be integer/);
  bad((r) => (r.sync.algorithm = 'diloco'), /sync\.diloco \(with innerSteps\) is required/);
  bad((r) => (r.sync.demo = { beta: 1 }), /sync\.demo\.beta: must be < 1/);
  bad((r) => {
    r.sync.algorithm = 'diloco';
    delete r.sync.demo;
    r.sync.diloco = { innerSteps: 5000 };
  }, /fewer than one outer step/);
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
