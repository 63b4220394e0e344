import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore, ParamSet, encodeUpdate, fullSlice, type Update } from '@fednode/core';
import { cnnSpec, permuteBySpec } from '@fednode/aggregator';
import { createNode, checkRunFile, WriteAheadLog, type FedNode, type LogFields, type Logger, type RunFile } from '../src/daemon/index.js';
import { taskOf } from '../src/daemon/run-file.js';
import { createHost, pushUpdate, NetError, type FedHost } from '../src/net/index.js';

/**
 * A one-shot aggregator's durability, in process: a model is in the write-ahead log when its
 * sender hears it was taken; a restarted aggregator reloads it without asking again; the
 * same upload sent again, or a second model from the same trainer, is answered as already
 * received and not counted twice; below minParticipants at the deadline the run fails, naming counts.
 */

function run(strategy: Record<string, unknown>): RunFile {
  return checkRunFile({
    run: 'oneshot-unit',
    seed: 3,
    task: { name: 'mlp', dataset: 'mnist', model: { hidden: 16 } },
    data: { trainRows: 200, testRows: 0, partition: { kind: 'iid' }, shares: 2 },
    codec: { codec: 'fp32' },
    strategy: { kind: 'oneshot', method: { kind: 'average' }, ...strategy },
    rounds: 1,
    local: { epochs: 1, batch: 32, lr: 0.05 },
    limits: { timeoutS: 5, lingerS: 0 },
  });
}

function capture(): { logger: Logger; lines: (LogFields & { event: string })[] } {
  const lines: (LogFields & { event: string })[] = [];
  return { lines, logger: { log: (_level, event, fields = {}) => void lines.push({ ...fields, event }), close: () => undefined } };
}

/** A whole-model update from `model`, as a trainer of round 0 sends it (its delta from version 0). */
function upload(r: RunFile, fill: number, sequence: number): Update {
  const specs = taskOf(r).specs;
  const delta = ParamSet.zeros(specs);
  delta.data.forEach((_, i) => (delta.data[i] = fill * ((i % 7) - 3) * 1e-3));
  return encodeUpdate({ runId: r.run, sender: 'ignored', baseVersion: 0, round: 0, sequence, examples: 100, metrics: {} }, fullSlice(specs), delta, { codec: 'fp32' });
}

async function refusalCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof NetError, String(e));
    return e.remoteCode;
  }
  assert.fail('expected a refusal');
}

test('one-shot aggregator: a model is logged before its ack, reloaded after a restart, and a re-send is not counted twice', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-oneshot-unit-'));
  const nodes: FedNode[] = [];
  const hosts: FedHost[] = [];
  const r = run({ deadlineS: 30, minParticipants: 2, cohort: 2 });
  const start = async (logger: Logger): Promise<FedNode> => {
    const n = createNode({ run: r, role: 'aggregator', dataDir: join(dir, 'agg'), listen: ['/ip4/127.0.0.1/tcp/0'], logger });
    nodes.push(n);
    await n.start();
    return n;
  };
  try {
    const a = hosts[hosts.push(await createHost()) - 1];
    const b = hosts[hosts.push(await createHost()) - 1];
    const first = capture();
    let node = await start(first.logger);
    const sent = upload(r, 1, 0);
    await pushUpdate(a, node.addrs[0], sent);
    // Acknowledged: the model is on disk already (a copy, so the live log is not touched).
    const walPath = join(dir, 'agg', 'aggregator', 'updates.wal');
    copyFileSync(walPath, join(dir, 'copy.wal'));
    const { wal, recovered } = WriteAheadLog.open(join(dir, 'copy.wal'));
    wal.close();
    assert.deepEqual(recovered.records.map((x) => [x.peer, x.epoch]), [[a.peerId.toString(), 0]]);
    assert.equal(node.status().aggregator?.received, 1);
    await node.stop();

    const second = capture();
    node = await start(second.logger);
    assert.equal(second.lines.find((l) => l.event === 'wal.replayed')?.applied, 1);
    assert.equal(node.status().aggregator?.received, 1, 'reloaded from the data dir, not asked for');
    // The same upload again (its ack was lost, say), then a second model from the same trainer:
    // both answered with the code trainers take as "delivered" (see DELIVERED in trainer.ts).
    assert.equal(await refusalCode(pushUpdate(a, node.addrs[0], sent)), 'DUPLICATE_SENDER');
    assert.equal(await refusalCode(pushUpdate(a, node.addrs[0], upload(r, 2, 1))), 'DUPLICATE_SENDER');
    assert.equal(node.status().aggregator?.received, 1, 'not double-counted');
    const done = node.done;
    await pushUpdate(b, node.addrs[0], upload(r, 3, 0));
    await done;
    const merged = second.lines.find((l) => l.event === 'oneshot.merged');
    assert.deepEqual(merged?.participants, [a.peerId.toString(), b.peerId.toString()].sort());
    assert.equal(merged?.method, 'average');
    assert.equal(node.status().aggregator?.version, 1);
  } finally {
    for (const n of nodes) await n.stop().catch(() => undefined);
    for (const h of hosts) await Promise.resolve(h.stop()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one-shot aggregator: fewer than minParticipants at the deadline fails the run, naming the counts', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-oneshot-few-'));
  const host = await createHost();
  const r = run({ deadlineS: 1.5, minParticipants: 2 });
  const node = createNode({ run: r, role: 'aggregator', dataDir: join(dir, 'agg'), listen: ['/ip4/127.0.0.1/tcp/0'], logger: capture().logger });
  try {
    const failed = new Promise<Error>((resolve) => node.on('error', resolve));
    await node.start();
    await pushUpdate(host, node.addrs[0], upload(r, 1, 0));
    const e = await failed;
    assert.match(e.message, new RegExp(`^one-shot merge refused at the deadline: 1 model\\(s\\) received \\(from ${host.peerId.toString()}\\), minParticipants is 2$`));
    assert.equal(node.status().aggregator?.version, 0);
  } finally {
    await node.stop().catch(() => undefined);
    await Promise.resolve(host.stop()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one-shot aggregator with differentInit on a CNN: it weight-matches by the task\'s channels, so a relabelled copy of a model merges back into it', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-oneshot-cnn-'));
  const hosts = [await createHost(), await createHost()];
  const r = checkRunFile({
    run: 'oneshot-cnn',
    seed: 3,
    task: { name: 'cnn', dataset: 'mnist' },
    data: { trainRows: 200, testRows: 0, partition: { kind: 'iid' }, shares: 2 },
    codec: { codec: 'fp32' },
    strategy: { kind: 'oneshot', method: { kind: 'average' }, differentInit: true, deadlineS: 30, minParticipants: 2, cohort: 2 },
    rounds: 1,
    local: { epochs: 1, batch: 32, lr: 0.05 },
    limits: { timeoutS: 10, lingerS: 0 },
  });
  const task = taskOf(r);
  const v0 = task.initialParams(r.seed);
  const a = task.initialParams(11);
  // Every channel and hidden unit of A relabelled: the same network in other coordinates.
  const spec = cnnSpec(task.specs);
  const b = permuteBySpec(a, spec, spec.groups.map((g) => Int32Array.from({ length: g.size }, (_, i) => (i * 7 + 3) % g.size)));
  assert.ok(spec.groups.every((g) => g.size % 7 !== 0), 'i -> 7i + 3 is a permutation of each group');
  const send = (m: ParamSet): Update => {
    const d = ParamSet.wrap(task.specs, m.data.map((v, i) => v - v0.data[i]));
    return encodeUpdate({ runId: r.run, sender: 'ignored', baseVersion: 0, round: 0, sequence: 0, examples: 100, metrics: {} }, fullSlice(task.specs), d, { codec: 'fp32' });
  };
  const node = createNode({ run: r, role: 'aggregator', dataDir: join(dir, 'agg'), listen: ['/ip4/127.0.0.1/tcp/0'], logger: capture().logger });
  try {
    const failed = new Promise<never>((_, reject) => node.on('error', reject));
    await node.start();
    const done = node.done;
    await pushUpdate(hosts[0], node.addrs[0], send(a));
    await pushUpdate(hosts[1], node.addrs[0], send(b));
    await Promise.race([done, failed]);
    const merged = new CheckpointStore(join(dir, 'agg', 'aggregator', 'checkpoints')).load(1).params;
    // Models are matched to the first in peer-id order: the merge is that sender's model again.
    const first = hosts[0].peerId.toString() < hosts[1].peerId.toString() ? a : b;
    const worst = merged.data.reduce((m, v, i) => Math.max(m, Math.abs(v - first.data[i])), 0);
    assert.ok(worst < 1e-5, `the merge is the first model again (largest difference ${worst})`);
  } finally {
    await node.stop().catch(() => undefined);
    for (const h of hosts) await Promise.resolve(h.stop()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
