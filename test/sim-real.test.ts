/**
 * `fednode simulate FILE --real`: the scenario on real daemons (the built CLI) on 127.0.0.1.
 * A tiny run (3 trainers, 3000 rows, 2 rounds) writes the simulator's records and summary, and
 * leaves no process behind, also when interrupted with SIGINT mid-run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive as alive } from '@fednode/core';
import { fednodeProcess, within } from './cluster.js';

const LIMIT = { timeout: 120_000 };

function scenario(rounds: number, strategy = '{ kind: fedavg, cohort: 3, deadlineS: 60 }'): string {
  return `run: real-tiny
seed: 1
task: { name: mlp, dataset: mnist }
data: { partition: { kind: iid }, trainRows: 3000, testRows: 2000, shares: 3 }
local: { epochs: 1, batch: 32, lr: 0.05, momentum: 0.9 }
strategy: ${strategy}
codec: { codec: int8, errorFeedback: true }
rounds: ${rounds}
population:
  speed: { dist: constant, value: 1000 }
  uplinkMbps: { dist: constant, value: 100 }
  downlinkMbps: { dist: constant, value: 100 }
  latencyMs: { dist: constant, value: 10 }
`;
}

interface Rec {
  run: string;
  round: number;
  version: number;
  accuracy: number | null;
  bytes_up: number;
  bytes_down: number;
  participants: number;
  virtual_time_s: number;
}

const simulateCli = (args: string[]) => fednodeProcess(['simulate', ...args]);

function pidsOf(runDir: string): number[] {
  const p = JSON.parse(readFileSync(join(runDir, 'pids.json'), 'utf8')) as { aggregator: number; trainers: number[] };
  return [p.aggregator, ...p.trainers];
}

// FedProx here: the daemons run a kind they never name, through the strategy registry alone.
test('simulate --real: 3 trainer daemons running FedProx, 2 rounds, records and summary like the simulator, no process left', LIMIT, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-sim-real-'));
  try {
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, scenario(2, '{ kind: fedprox, mu: 0.01, cohort: 3, deadlineS: 60 }'));
    const out = join(dir, 'out');
    const p = simulateCli([file, '--real', '--json', '--out', out]);
    const exit = await within(p.exited, 100_000, 'simulate --real');
    assert.equal(exit.code, 0, p.out());
    const recs = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec);
    assert.deepEqual(
      recs.map((r) => [r.round, r.version]),
      [
        [0, 1],
        [1, 2],
      ],
    );
    for (const r of recs) {
      assert.equal(r.participants, 3);
      assert.ok(r.accuracy !== null && r.accuracy > 0.5 && r.accuracy <= 1, `accuracy ${r.accuracy}`);
      assert.ok(r.bytes_up > 0 && r.bytes_down > 0 && r.virtual_time_s >= 0);
    }
    assert.ok(recs[1].accuracy! > recs[0].accuracy!, `accuracy rises: ${recs.map((r) => r.accuracy).join(', ')}`);
    assert.ok(recs[1].bytes_up > recs[0].bytes_up, 'bytes are cumulative');
    const summary = JSON.parse(p.out().trim().split('\n').at(-1)!) as { rounds: number; final_accuracy: number; clients: number; passed: boolean; daemon_rss_mb: { aggregator: number; trainer_min: number; trainer_median: number; trainer_max: number; trainer_mean: number } };
    assert.equal(summary.rounds, 2);
    const rss = summary.daemon_rss_mb;
    assert.ok(rss.aggregator > 30 && rss.trainer_min > 30 && rss.trainer_min <= rss.trainer_median && rss.trainer_median <= rss.trainer_max, `each daemon's peak memory: ${JSON.stringify(rss)}`);
    assert.equal(summary.clients, 3);
    assert.equal(summary.final_accuracy, recs[1].accuracy);
    assert.ok(existsSync(join(out, 'report.html')) && existsSync(join(out, 'summary.json')));
    for (const pid of pidsOf(join(out, 'real', 'real-tiny'))) assert.equal(alive(pid), false, `daemon ${pid} is gone`);
    assert.match(readFileSync(join(out, 'real', 'real-tiny', 'run.yaml'), 'utf8'), /kind: fedprox\n\s+mu: 0.01/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('simulate --real interrupted with SIGINT mid-run: every daemon is killed', LIMIT, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-sim-real-int-'));
  writeFileSync(join(dir, 'tiny.yaml'), scenario(200));
  const p = simulateCli([join(dir, 'tiny.yaml'), '--real', '--out', join(dir, 'out')]);
  try {
    const metrics = join(dir, 'out', 'metrics.jsonl');
    // Interrupt once the run is under way: the first round has closed.
    const until = Date.now() + 90_000;
    while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').length > 0)) {
      assert.ok(Date.now() < until && p.child.exitCode === null, `the run did not start: ${p.out()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const pids = pidsOf(join(dir, 'out', 'real', 'real-tiny'));
    assert.ok(pids.every(alive), 'the daemons run before the interrupt');
    p.child.kill('SIGINT');
    const exit = await within(p.exited, 20_000, 'simulate --real to stop');
    assert.equal(exit.code, 130);
    // SIGKILL is delivered at once, but the kernel reaps asynchronously: allow a moment.
    const gone = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    for (const pid of pids) assert.equal(alive(pid), false, `daemon ${pid} is gone`);
  } finally {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
