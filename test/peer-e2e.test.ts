/**
 * Decentralised peers as real `fednode start --role peer` processes on 127.0.0.1: DeMo and
 * DiLoCo over gossip, parameter hashes at checkpoints, bytes per step, a peer killed with
 * SIGKILL, and a newcomer that catches up over /fednode/model/1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensorsBytes, paramSetToSafetensors, tasks } from '@fednode/core';
import { Cluster, readLog, waitForLog, within, type LogLine } from './cluster.js';

const LIMIT = { timeout: 240_000 };

const TINY = { seqLen: 32, dModel: 32, heads: 2, headDim: 16, ffDim: 64, layers: 1 };
/** Big enough that payloads, not the update header's tensor names, dominate a contribution. */
const SMALL = { seqLen: 32, dModel: 64, heads: 2, headDim: 32, ffDim: 128, layers: 1 };

function peerRun(name: string, sync: Record<string, unknown>, shares: number, model = TINY): Record<string, unknown> {
  return {
    run: name,
    mode: 'decentralised',
    seed: 3,
    task: { name: 'transformer', dataset: 'sotu', model },
    data: { partition: { kind: 'natural' }, shares, evalSamples: 512 },
    sync: { batch: 8, lr: 3e-3, warmupSteps: 5, timeoutS: 15, hashEvery: 10, ...sync },
    limits: { lingerS: 2, timeoutS: 10 },
    // A run of members: the key makes a private network only they can connect to.
    admission: { psk: { env: 'FEDNODE_TEST_PSK' } },
  };
}

process.env.FEDNODE_TEST_PSK ??= 'peer-e2e-pre-shared-key-0123456789';

const steps = (lines: LogLine[]) => lines.filter((l) => l.event === 'sync.step');
const hashesOf = (lines: LogLine[]) => new Map(lines.filter((l) => l.event === 'peer.hash').map((l) => [l.step as number, l.hash as string]));

/** Starts peer `i` with the first peer as its bootstrap (when given). */
async function startPeer(c: Cluster, runFile: string, name: string, shard: number, bootstrap: string | null) {
  const key = await c.key(name);
  const args = ['--config', runFile, '--role', 'peer', '--shard', String(shard), '--key', key.path, '--data-dir', c.dataDir(name)];
  if (bootstrap !== null) args.push('--bootstrap', bootstrap);
  const p = c.start(name, args);
  const started = await waitForLog(p.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, `${name} to start`);
  return { proc: p, peerId: key.peerId, addr: (started.addrs as string[])[0] };
}

test('four DeMo peers: every step aggregates all four, hashes agree at every checkpoint, bytes per step >= 40x below fp32, held-out loss falls', LIMIT, async () => {
  const c = new Cluster('peer-demo');
  try {
    const run = c.writeRun('run', peerRun('demo4', { algorithm: 'demo', steps: 40, minPeers: 4, demo: { topk: 8, topk1d: 2 } }, 4, SMALL));
    const first = await startPeer(c, run, 'p0', 0, null);
    const rest = await Promise.all([1, 2, 3].map((i) => startPeer(c, run, `p${i}`, i, first.addr)));
    const peers = [first, ...rest];
    const done = await within(Promise.all(peers.map((p) => waitForLog(p.proc.log, (ls) => ls.find((l) => l.event === 'peer.done'), 180_000, `${p.proc.name} to finish`))), 200_000, 'the run');
    const exits = await Promise.all(peers.map((p) => within(p.proc.exited, 20_000, `${p.proc.name} to exit`)));
    assert.deepEqual(exits.map((e) => e.code), [0, 0, 0, 0]);
    // Bit-identical parameters: one final hash, and the same hash at every checkpoint.
    assert.equal(new Set(done.map((d) => d.hash)).size, 1, `final hashes ${done.map((d) => d.hash).join(' ')}`);
    const logs = peers.map((p) => readLog(p.proc.log));
    const h0 = hashesOf(logs[0]);
    assert.deepEqual([...h0.keys()], [10, 20, 30, 40]);
    for (const l of logs.slice(1)) assert.deepEqual(hashesOf(l), h0);
    for (const l of logs) {
      const s = steps(l);
      assert.equal(s.length, 40);
      assert.ok(s.every((r) => r.contributors === 4), 'every step aggregated all four contributions');
      const dense = (l.find((x) => x.event === 'node.started')!.dense_bytes as number) ?? 0;
      const sent = Math.max(...s.map((r) => r.bytes_sent as number));
      assert.ok(dense / sent >= 40, `sent ${sent} B per step against ${dense} B dense: ${(dense / sent).toFixed(1)}x`);
      const ev = l.filter((x) => x.event === 'peer.evaluated');
      assert.ok((ev.at(-1)!.loss as number) < Math.log(98) - 0.5, `held-out loss ${String(ev.at(-1)!.loss)}`);
    }
  } finally {
    await c.close();
  }
});

test('any task decentralised: three DeMo peers train the MNIST MLP on iid shares; hashes agree and held-out loss falls', LIMIT, async () => {
  const c = new Cluster('peer-mlp');
  try {
    const run = c.writeRun('run', {
      ...peerRun('demo-mlp', { algorithm: 'demo', steps: 30, minPeers: 3, lr: 0.01, hashEvery: 10, evalEvery: 10, batch: 32 }, 3),
      task: { name: 'mlp', dataset: 'mnist' },
      data: { partition: { kind: 'iid' }, shares: 3, evalSamples: 1000 },
    });
    const first = await startPeer(c, run, 'p0', 0, null);
    const rest = await Promise.all([1, 2].map((i) => startPeer(c, run, `p${i}`, i, first.addr)));
    const peers = [first, ...rest];
    const done = await within(Promise.all(peers.map((p) => waitForLog(p.proc.log, (ls) => ls.find((l) => l.event === 'peer.done'), 180_000, `${p.proc.name} to finish`))), 200_000, 'the run');
    assert.equal(new Set(done.map((d) => d.hash)).size, 1, 'bit-identical parameters on every peer');
    const logs = peers.map((p) => readLog(p.proc.log));
    assert.equal(logs[0].find((l) => l.event === 'node.started')!.task, 'mlp');
    const ev = logs[0].filter((x) => x.event === 'peer.evaluated').map((x) => x.loss as number);
    process.stdout.write(`# decentralised mlp: held-out loss ${ev.map((x) => x.toFixed(4)).join(', ')}\n`);
    assert.ok(ev.length >= 2 && ev.at(-1)! < ev[0] && ev.at(-1)! < Math.log(10) - 0.5, `held-out loss ${ev.join(', ')}`);
    for (const l of logs) assert.ok(steps(l).every((r) => r.contributors === 3));
  } finally {
    await c.close();
  }
});

test('DiLoCo peers (int4 pseudo-gradients, H = 10) from an initialModel checkpoint: hashes agree, bytes per outer step reported', LIMIT, async () => {
  const c = new Cluster('peer-diloco');
  try {
    // DiLoCo starts from a pretrained model: here another seed's initialisation, as a checkpoint.
    const base = join(c.dir, 'base.safetensors');
    writeFileSync(base, encodeSafetensorsBytes(paramSetToSafetensors(tasks.createTask('transformer', { dataset: 'sotu', model: TINY }).initialParams(99))));
    const run = c.writeRun('run', { ...peerRun('diloco3', { algorithm: 'diloco', steps: 60, minPeers: 3, hashEvery: 2, diloco: { innerSteps: 10, codec: 'int4' } }, 3), initialModel: 'base.safetensors' });
    const first = await startPeer(c, run, 'p0', 0, null);
    const rest = await Promise.all([1, 2].map((i) => startPeer(c, run, `p${i}`, i, first.addr)));
    const peers = [first, ...rest];
    const done = await within(Promise.all(peers.map((p) => waitForLog(p.proc.log, (ls) => ls.find((l) => l.event === 'peer.done'), 180_000, `${p.proc.name} to finish`))), 200_000, 'the run');
    assert.equal(new Set(done.map((d) => d.hash)).size, 1);
    const logs = peers.map((p) => readLog(p.proc.log));
    for (const l of logs.slice(1)) assert.deepEqual(hashesOf(l), hashesOf(logs[0]));
    for (const l of logs) {
      assert.equal(l.find((x) => x.event === 'node.started')!.initial, base, 'every peer starts from the checkpoint');
      const s = steps(l);
      assert.equal(s.length, 6);
      assert.ok(s.every((r) => r.contributors === 3));
      const dense = l.find((x) => x.event === 'node.started')!.dense_bytes as number;
      // int4 with one fp32 scale per 256 values is about an eighth of dense, per outer step, plus
      // the framing, which weighs on a model this small (int8 would be over a quarter).
      const sent = s[0].bytes_sent as number;
      assert.ok(sent < dense / 6 && sent > dense / 8.5, `sent ${sent} B per outer step, dense ${dense} B`);
    }
  } finally {
    await c.close();
  }
});

test('a peer killed with SIGKILL: the others step on after the timeout; a newcomer catches up and its hashes agree', LIMIT, async () => {
  const c = new Cluster('peer-kill');
  try {
    const run = c.writeRun('run', peerRun('kill3', { algorithm: 'demo', steps: 400, minPeers: 3, timeoutS: 5 }, 3));
    const first = await startPeer(c, run, 'p0', 0, null);
    const [p1, p2] = await Promise.all([1, 2].map((i) => startPeer(c, run, `p${i}`, i, first.addr)));
    await waitForLog(p2.proc.log, (ls) => steps(ls).length >= 15, 120_000, 'p2 to take 15 steps');
    p2.proc.child.kill('SIGKILL');
    await p2.proc.exited;
    const dropped = await waitForLog(first.proc.log, (ls) => ls.find((l) => l.event === 'peer.dropped' && l.peer === p2.peerId), 30_000, 'p0 to drop p2');
    const after = await waitForLog(first.proc.log, (ls) => steps(ls).filter((s) => (s.step as number) > (dropped.step as number) + 5).length > 0 && steps(ls), 60_000, 'p0 to step on');
    assert.ok(after.filter((s) => (s.step as number) > (dropped.step as number)).every((s) => s.contributors === 2));
    // A newcomer (new identity, same share) pulls the state and joins at an announced step.
    const p3 = await startPeer(c, run, 'p3', 2, first.addr);
    const joined = await waitForLog(p3.proc.log, (ls) => ls.find((l) => l.event === 'peer.joined'), 90_000, 'p3 to join');
    const joinStep = joined.step as number;
    const done = await within(Promise.all([first, p1, p3].map((p) => waitForLog(p.proc.log, (ls) => ls.find((l) => l.event === 'peer.done'), 200_000, `${p.proc.name} to finish`))), 220_000, 'the run');
    assert.equal(new Set(done.map((d) => d.hash)).size, 1, 'final hashes agree');
    const h0 = hashesOf(readLog(first.proc.log));
    const h3 = hashesOf(readLog(p3.proc.log));
    const common = [...h3.keys()].filter((s) => s > joinStep);
    assert.ok(common.length >= 2, `p3 published hashes at ${[...h3.keys()].join(', ')}`);
    for (const s of common) assert.equal(h3.get(s), h0.get(s), `hash at step ${s}`);
    const s0 = steps(readLog(first.proc.log)).filter((s) => (s.step as number) >= joinStep);
    assert.ok(s0.every((s) => s.contributors === 3), 'p3 contributed to every step from its join');
  } finally {
    await c.close();
  }
});
