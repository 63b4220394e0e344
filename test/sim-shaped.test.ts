/**
 * Shaped links (`fednode simulate FILE --shaped`, netns.ts): a topology's qdiscs carry the
 * rates asked for and go with it; a tiny shaped run moves its updates through the shaped
 * links, reports its prediction and leaves no namespace behind, also when interrupted with
 * SIGINT; a run killed with SIGKILL leaves its namespaces and daemons, which `fednode
 * clean-links` removes. Needs root (network
 * namespaces, veth pairs, tc): skipped with the reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShapedNetwork, listNamespaces, shapingUnavailable } from '@fednode/node';
import { processAlive as alive } from '@fednode/core';
import { CLI, fednodeProcess, within } from './cluster.js';

const skip = shapingUnavailable() ?? false;
const LIMIT = { timeout: 150_000, skip };

function scenario(rounds: number): string {
  return `run: shaped-tiny
seed: 1
task: { name: mlp, dataset: mnist }
data: { partition: { kind: iid }, trainRows: 2000, testRows: 500, shares: 2 }
local: { epochs: 1, batch: 32, lr: 0.05, momentum: 0.9 }
strategy: { kind: fedavg, cohort: 2, deadlineS: 120 }
codec: { codec: fp32 }
rounds: ${rounds}
limits: { pollS: 0.1 }
population:
  speed: { dist: constant, value: 1000 }
  uplinkMbps: { dist: constant, value: 20 }
  downlinkMbps: { dist: constant, value: 50 }
  latencyMs: { dist: constant, value: 0 }
`;
}

const cli = fednodeProcess;

interface Pids {
  aggregator: number;
  trainers: number[];
  namespaces: string;
}

test('a shaped topology: each link has its own tbf at the rates asked for, and nothing is left once it is removed', LIMIT, async () => {
  const net = await ShapedNetwork.create([
    { name: 'server', uplinkMbps: null, downlinkMbps: null },
    { name: 'slow', uplinkMbps: 5, downlinkMbps: 100 },
  ]);
  try {
    assert.deepEqual(net.remaining().sort(), [`${net.prefix}0`, `${net.prefix}1`, `${net.prefix}hub`].sort());
    type Qdisc = { kind: string; dev: string; options: { rate: number } };
    const up = JSON.parse(execFileSync('tc', ['-j', '-n', net.nsOf('slow'), 'qdisc', 'show', 'dev', 'eth0'], { encoding: 'utf8' })) as Qdisc[];
    assert.equal(up.find((q) => q.kind === 'tbf')?.options.rate, (5e6 / 8), 'uplink: 5 Mbit/s in bytes per second');
    const hub = JSON.parse(execFileSync('tc', ['-j', '-n', `${net.prefix}hub`, 'qdisc', 'show'], { encoding: 'utf8' })) as Qdisc[];
    assert.deepEqual(hub.filter((q) => q.kind === 'tbf').map((q) => [q.dev, q.options.rate]), [['v1', 100e6 / 8]], "only the shaped daemon's downlink");
    assert.equal(net.addrOf('server'), '10.99.0.1');
    assert.equal(net.addrOf('slow'), '10.99.1.1');
  } finally {
    net.removeSync();
  }
  assert.deepEqual(net.remaining(), []);
});

test('simulate --shaped: 2 trainers on shaped links, their updates through the shaped uplinks, a prediction per round, no namespace left', LIMIT, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-sim-shaped-'));
  try {
    writeFileSync(join(dir, 'tiny.yaml'), scenario(2));
    const out = join(dir, 'out');
    const p = cli(['simulate', join(dir, 'tiny.yaml'), '--shaped', '--json', '--out', out]);
    const exit = await within(p.exited, 140_000, 'simulate --shaped');
    assert.equal(exit.code, 0, p.out());
    const summary = JSON.parse(p.out().trim().split('\n').at(-1)!) as { rounds: number; bytes_up: number; bytes_down: number; prediction: { rounds: { measured_s: number; predicted_s: number }[]; in_sample: boolean; calibration: { steps: number; step_s: number } } };
    assert.equal(summary.rounds, 2);
    // The bytes are what the uplinks' tbf qdiscs counted: at least the 2 trainers' 2 dense fp32 updates of the 199,210-parameter MLP.
    const payloads = 2 * 2 * 199_210 * 4;
    assert.ok(summary.bytes_up >= payloads && summary.bytes_up < payloads * 1.5, `bytes up through the shaped links: ${summary.bytes_up}, payloads ${payloads}`);
    assert.ok(summary.bytes_down >= payloads, `bytes down through the shaped links: ${summary.bytes_down}`);
    assert.equal(summary.prediction.rounds.length, 2);
    assert.ok(summary.prediction.rounds.every((r) => r.measured_s > 0 && r.predicted_s > 0));
    assert.equal(summary.prediction.in_sample, true, 'two rounds leave none to predict after the calibration');
    assert.equal(summary.prediction.calibration.steps, Math.ceil(1000 / 32));
    assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /shaped-tiny: measured against predicted/);
    const pids = JSON.parse(readFileSync(join(out, 'real', 'shaped-tiny', 'pids.json'), 'utf8')) as Pids;
    assert.match(pids.namespaces, /^fednode-\d+-\d+-$/);
    assert.deepEqual(listNamespaces(pids.namespaces), [], 'every namespace of the run is gone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Runs `body` on a long shaped run once its first round has closed; whatever happens, the run
 * is killed and its leftovers removed after.
 */
async function underWay(what: string, body: (run: { p: ReturnType<typeof fednodeProcess>; pids: Pids }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `fednode-sim-shaped-${what}-`));
  writeFileSync(join(dir, 'tiny.yaml'), scenario(200));
  const p = cli(['simulate', join(dir, 'tiny.yaml'), '--shaped', '--out', join(dir, 'out')]);
  try {
    const metrics = join(dir, 'out', 'metrics.jsonl');
    const until = Date.now() + 120_000;
    while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').length > 0)) {
      assert.ok(Date.now() < until && p.child.exitCode === null, `the run did not start: ${p.out()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await body({ p, pids: JSON.parse(readFileSync(join(dir, 'out', 'real', 'shaped-tiny', 'pids.json'), 'utf8')) as Pids });
  } finally {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await within(p.exited, 10_000, 'simulate --shaped to end');
    // Whatever the assertions left: never namespaces on the machine.
    execFileSync(process.execPath, [CLI, 'clean-links'], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

async function gone(pids: readonly number[]): Promise<void> {
  // SIGKILL is delivered at once, but the kernel reaps asynchronously: allow a moment.
  const until = Date.now() + 5000;
  while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) assert.equal(alive(pid), false, `daemon ${pid} is gone`);
}

test('simulate --shaped interrupted with SIGINT mid-run: its daemons, namespaces, veths and qdiscs are gone', LIMIT, () =>
  underWay('int', async ({ p, pids }) => {
    assert.equal(listNamespaces(pids.namespaces).length, 4, 'the hub and 3 daemon namespaces while it runs');
    p.child.kill('SIGINT');
    assert.equal((await within(p.exited, 20_000, 'simulate --shaped to stop')).code, 130);
    assert.deepEqual(listNamespaces(pids.namespaces), []);
    await gone([pids.aggregator, ...pids.trainers]);
  }));

test('simulate --shaped killed with SIGKILL mid-run leaves its namespaces and daemons; fednode clean-links removes them', LIMIT, () =>
  underWay('kill', async ({ p, pids }) => {
    p.child.kill('SIGKILL');
    await within(p.exited, 10_000, 'simulate --shaped to die');
    const daemons = [pids.aggregator, ...pids.trainers];
    assert.equal(listNamespaces(pids.namespaces).length, 4, 'a killed run cannot remove its hub and 3 daemon namespaces');
    assert.ok(daemons.some(alive), 'nor kill its daemons');
    const clean = cli(['clean-links']);
    assert.equal((await within(clean.exited, 30_000, 'clean-links')).code, 0, clean.out());
    assert.match(clean.out(), new RegExp(`removed \\d+ network namespaces: .*${pids.namespaces}hub`));
    assert.deepEqual(listNamespaces(pids.namespaces), []);
    await gone(daemons);
  }));
