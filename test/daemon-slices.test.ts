/**
 * HeteroFL with real daemons: one aggregator and three `fednode start` trainers on 127.0.0.1,
 * each training its own width of the MLP supernet, assigned three ways (peer id in the run
 * file, `--name`, `--capability`). What it shows:
 *  - every update is accepted with the slice its sender was assigned, the rounds close with all
 *    three, and the whole model's accuracy rises; each sub-network of the global model (cut
 *    out by the aggregator) is scored too;
 *  - a peer listed as width 0.25 that pushes a width-0.5 update is refused, before its payload,
 *    with SLICE_NOT_ASSIGNED and a reason naming both slices; the model protocol serves it the
 *    slice it asks for;
 *  - `fednode simulate --real` runs a HeteroFL scenario (clients.widths) the same way: each
 *    width becomes a capability, trainer i takes client i's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParamSet, encodeUpdate, models, resolveSlice } from '@fednode/core';
import { NetError, createHost, loadIdentity, pullModel, pushUpdate } from '@fednode/node';
import { Cluster, fednodeSync, freePort, mnistRun, readLog, waitForLog, within, type LogLine } from './cluster.js';

const LIMIT = { timeout: 180_000 };
const EXIT_MS = 120_000;
const ROUNDS = 5;

function events(lines: LogLine[], event: string): LogLine[] {
  return lines.filter((l) => l.event === event);
}

test('heterogeneous slices: trainers at width 1, 0.5 and 0.25 (by peer id, name and capability); accuracy rises; an unassigned slice is refused with the reason', LIMIT, async () => {
  const c = new Cluster('slices');
  let rogueHost: Awaited<ReturnType<typeof createHost>> | null = null;
  try {
    const agg = await c.key('agg');
    const [big, phone, sensor, rogue] = await Promise.all(['big', 'phone', 'sensor', 'rogue'].map((n) => c.key(n)));
    const port = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    const run = c.writeRun(
      'run',
      mnistRun('e2e-slices', 3, {
        task: { name: 'mlp', dataset: 'mnist' },
        rounds: ROUNDS,
        data: { trainRows: 6000, testRows: 2000, partition: { kind: 'iid' }, shares: 3 },
        slices: {
          capabilities: { full: { width: 1 }, small: { width: 0.5 }, tiny: { width: 0.25 } },
          peers: { [big.peerId]: 'full', phone: 'small', [rogue.peerId]: 'tiny' },
        },
        strategy: { kind: 'fedavg', cohort: 3, deadlineS: 60, minParticipants: 3 },
        local: { epochs: 1, batch: 32, lr: 0.05, momentum: 0.9 },
        network: { aggregator: aggAddr },
      }),
    );
    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
    const trainer = (name: string, key: string, shard: number, extra: string[]) =>
      c.start(name, ['--config', run, '--role', 'trainer', '--key', key, '--data-dir', c.dataDir(name), '--shard', String(shard), ...extra]);
    const ts = [trainer('big', big.path, 0, []), trainer('phone', phone.path, 1, ['--name', 'phone']), trainer('sensor', sensor.path, 2, ['--capability', 'tiny'])];
    await waitForLog(a.log, (l) => events(l, 'node.started')[0], 60_000, 'the aggregator to start');

    // The rogue peer is assigned width 0.25: the model protocol cuts that slice for it ...
    rogueHost = await createHost({ privateKey: loadIdentity(rogue.path) });
    const tiny = models.mlpSubnetSlice(models.MNIST_MLP_SUPERNET, { width: 0.25 });
    const pulled = await pullModel(rogueHost, aggAddr, { runId: 'e2e-slices', version: 'latest', slice: tiny, codec: 'fp32' }, { timeoutMs: 10_000 });
    assert.deepEqual(
      pulled.params.specs.map((s) => [s.name, ...s.shape]),
      [['fc1.weight', 50, 784], ['fc1.bias', 50], ['fc2.weight', 50, 50], ['fc2.bias', 50], ['head.weight', 10, 50], ['head.bias', 10]],
    );
    // ... and an update of width 0.5, well formed in every other way, is refused.
    const half = models.mlpSubnetSlice(models.MNIST_MLP_SUPERNET, { width: 0.5 });
    const delta = ParamSet.zeros(resolveSlice(half, models.mlpSupernetSpecs(models.MNIST_MLP_SUPERNET)).localSpecs);
    const wrong = encodeUpdate({ runId: 'e2e-slices', sender: rogue.peerId, baseVersion: pulled.version, round: pulled.round, sequence: 1, examples: 10 }, half, delta, { codec: 'fp32' });
    await assert.rejects(pushUpdate(rogueHost, aggAddr, wrong, { timeoutMs: 10_000 }), (e: unknown) => {
      assert.ok(e instanceof NetError && e.remoteCode === 'SLICE_NOT_ASSIGNED', String(e));
      assert.match(e.message, /is assigned width 0\.25 \(capability tiny\); the update holds width 0\.5 \(capability small\)/);
      return true;
    });

    assert.equal((await within(a.exited, EXIT_MS, 'the aggregator to finish')).code, 0, 'the aggregator exits 0');
    for (const p of ts) assert.equal((await within(p.exited, EXIT_MS, p.name)).code, 0, `${p.name} exits 0`);

    const lines = readLog(a.log);
    const refused = events(lines, 'update.refused').find((l) => l.code === 'SLICE_NOT_ASSIGNED');
    assert.ok(refused !== undefined, 'the refusal is logged');
    assert.equal(refused.peer, rogue.peerId);
    assert.match(refused.reason as string, /assigned width 0\.25/);

    const closed = events(lines, 'round.closed');
    assert.deepEqual(closed.map((l) => l.version), [1, 2, 3, 4, 5]);
    for (const l of closed) assert.equal((l.peers as string[]).length, 3, `round ${l.round} had every trainer`);
    const want = new Map([
      [big.peerId, 'the whole model'],
      [phone.peerId, 'width 0.5'],
      [sensor.peerId, 'width 0.25'],
    ]);
    const accepted = events(lines, 'update.accepted');
    assert.equal(accepted.length, 3 * ROUNDS);
    for (const u of accepted) assert.equal(u.slice, want.get(u.peer as string), `${u.peer} round ${u.round}`);
    const ready = new Map(ts.map((p) => [p.name, events(readLog(p.log), 'trainer.ready')[0]]));
    assert.equal(ready.get('big')?.slice_source, 'capability full');
    assert.equal(ready.get('phone')?.slice_source, 'capability small');
    assert.equal(ready.get('sensor')?.slice_source, 'capability tiny');

    const evaluated = events(lines, 'version.evaluated');
    const acc = evaluated.map((l) => l.accuracy as number);
    const bySlice = evaluated.map((l) => l.accuracy_by_slice as Record<string, number>);
    process.stdout.write(`# slices: accuracy by version ${acc.map((x) => x.toFixed(4)).join(', ')}; width 0.5 ${bySlice.map((b) => b['width 0.5'].toFixed(4)).join(', ')}; width 0.25 ${bySlice.map((b) => b['width 0.25'].toFixed(4)).join(', ')}\n`);
    assert.equal(acc.length, ROUNDS);
    for (let i = 1; i < ROUNDS; i++) assert.ok(acc[i] > acc[i - 1], `accuracy rises every round: ${acc.join(', ')}`);
    assert.ok(acc[ROUNDS - 1] >= 0.88, `final accuracy ${acc[ROUNDS - 1]}`);
    for (const b of bySlice) assert.deepEqual(Object.keys(b).sort(), ['width 0.25', 'width 0.5']);
    // The narrow sub-networks are trained models in their own right, not leftovers of the wide one.
    const narrow = bySlice.map((b) => b['width 0.25']);
    assert.ok(narrow[ROUNDS - 1] > narrow[0] && narrow[ROUNDS - 1] >= 0.8, `width 0.25 scores ${narrow.join(', ')}`);
  } finally {
    if (rogueHost !== null) await Promise.resolve(rogueHost.stop()).catch(() => undefined);
    await c.close();
  }
});

test('simulate --real with slices.byShare: the trainer of share i trains byShare[i], accuracy by slice in the summary', LIMIT, async () => {
  const c = new Cluster('slices-real');
  try {
    const file = join(c.dir, 'hetero.yaml');
    writeFileSync(
      file,
      `run: real-hetero
seed: 1
task: { name: mlp, dataset: mnist }
data: { partition: { kind: iid }, trainRows: 3000, testRows: 2000, shares: 3 }
slices: { byShare: [{ width: 1 }, { width: 0.5 }, { width: 0.25 }] }
local: { epochs: 1, batch: 32, lr: 0.05, momentum: 0.9 }
strategy: { kind: fedavg, cohort: 3, weighting: uniform }
codec: { codec: int8 }
rounds: 2
population:
  speed: { dist: constant, value: 1000 }
  uplinkMbps: { dist: constant, value: 100 }
  downlinkMbps: { dist: constant, value: 100 }
  latencyMs: { dist: constant, value: 10 }
`,
    );
    const out = join(c.dir, 'out');
    const r = fednodeSync(['simulate', file, '--real', '--json', '--out', out], 100_000);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rounds: number; final_accuracy: number; accuracy_by_slice: Record<string, number> };
    process.stdout.write(`# simulate --real slices: ${JSON.stringify(summary.accuracy_by_slice)}\n`);
    assert.equal(summary.rounds, 2);
    assert.deepEqual(Object.keys(summary.accuracy_by_slice).sort(), ['width 0.25', 'width 0.5']);
    for (const [w, acc] of Object.entries(summary.accuracy_by_slice)) assert.ok(acc > 0.5, `${w}: ${acc}`);
    const agg = readLog(join(out, 'real', 'real-hetero', 'logs', 'aggregator.log'));
    const slices = events(agg, 'update.accepted').map((l) => l.slice as string);
    assert.deepEqual([...new Set(slices)].sort(), ['the whole model', 'width 0.25', 'width 0.5']);
    // The daemons read the scenario itself: its slices and its population are in the document they were given.
    const doc = readFileSync(join(out, 'real', 'real-hetero', 'run.yaml'), 'utf8');
    assert.match(doc, /byShare:/);
    assert.match(doc, /population:/);
  } finally {
    await c.close();
  }
});
