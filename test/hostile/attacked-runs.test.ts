/**
 * Honest runs (decentralised DeMo with 3 peers; federated FedAvg with 3 trainers) attacked at
 * once by two hosts (see attackers.ts):
 * - an intruder without the run's key that knows the run id and every peer's address: it dials
 *   each peer, publishes sync parts, PeerJoin, RoundOpen, ModelAnnounce and garbage on every
 *   topic of the run, and asks for status;
 * - a member holding the key that floods partial contributions for 1000 future steps and
 *   headers ten times the model, forges the aggregator's control messages and pushes
 *   malformed updates, while it watches the honest nodes' memory through their status.
 * Each must end with exactly the parameters of the same run without them, wait for nothing on
 * their account, and keep its memory under the stated bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors } from '@fednode/core';
import { Cluster, freePort, mnistPeerRun, mnistRun, readLog, waitForLog, within, type LogLine } from '../cluster.js';
import { intrude, misbehave, type IntruderReport, type MemberReport } from './attackers.js';

const LIMIT = { timeout: 300_000 };
const PSK = 'hostile-suite-pre-shared-key-0123456789';
process.env.FEDNODE_HOSTILE_PSK = PSK;

/**
 * The memory bounds: a peer holds at most MAX_PENDING_STEPS_PER_AUTHOR (4) partial
 * contributions per member, each at most the model's dense size (~0.8 MB for this MLP) plus
 * framing: 3 members (2 honest, 1 not) x 4 x 1 MB. Heap plus buffers (a few hundred MiB unattacked,
 * most of it the data and the engine) may exceed the clean run's peak by at most MEMORY_MARGIN:
 * the partial contributions and gossipsub's cache of what it accepted, with room for the
 * garbage collector's timing (the peak of an unattacked peer varies by tens of MiB).
 */
const PENDING_BOUND = 3 * 4 * 1024 * 1024;
const MEMORY_MARGIN = 96 * 1024 * 1024;
/** HOSTILE_SAMPLES=dir keeps every memory sample of both runs, for a closer look. */
function dumpSamples(name: string, clean: MemberReport, attacked: MemberReport): void {
  const dir = process.env.HOSTILE_SAMPLES;
  if (dir !== undefined) writeFileSync(join(dir, `${name}.json`), JSON.stringify({ clean: clean.samples, attacked: attacked.samples }));
}
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

interface Attacked {
  intruder: IntruderReport | null;
  /** The member: in the clean run a passive one that only reads status (the memory baseline). */
  member: MemberReport;
}

async function demoRun(attack: boolean): Promise<Attacked & { hash: string; logs: LogLine[][] }> {
  const c = new Cluster(`hostile-demo-${attack ? 'attacked' : 'clean'}`);
  try {
    // A step waits up to 60 s: validating the flood can starve a peer on two cores for longer
    // than the default 15 s, and a contribution dropped at the timeout changes the result.
    const run = c.writeRun('run', mnistPeerRun('hostile-demo', 3, { timeoutS: 60 }, { seed: 3, admission: { psk: { env: 'FEDNODE_HOSTILE_PSK' } } }));
    const peers = await c.startPeers(run, 3);
    const finished = Promise.all(peers.map((p, i) => waitForLog(p.log, (ls) => ls.find((l) => l.event === 'peer.done'), 200_000, `p${i} to finish`)));
    const addrs = () => peers.map((p) => p.addr);
    const intruder = attack ? intrude('hostile-demo', addrs, finished) : Promise.resolve(null);
    const member = misbehave('hostile-demo', PSK, addrs, finished, { passive: !attack, pushTo: null });
    const done = await within(finished, 220_000, 'the run');
    assert.equal(new Set(done.map((d) => d.hash)).size, 1, 'the peers agree');
    return { hash: done[0].hash as string, logs: peers.map((p) => readLog(p.log)), intruder: await intruder, member: await member };
  } finally {
    await c.close();
  }
}

test('hostile: an intruder without the key and a flooding member cannot touch a decentralised DeMo run: same parameters as without them, nothing waited for, memory bounded', LIMIT, async () => {
  const clean = await demoRun(false);
  const attacked = await demoRun(true);
  const i = attacked.intruder!;
  const m = attacked.member;
  dumpSamples('demo', clean.member, m);
  process.stdout.write(`# intruder (decentralised): ${JSON.stringify(i)}\n`);
  process.stdout.write(`# member (decentralised): ${JSON.stringify({ ...m, samples: m.samples.length, peakMemoryMiB: m.peakMemory.map(mib), peakPendingMiB: m.peakPending.map(mib), cleanPeakMemoryMiB: clean.member.peakMemory.map(mib) })}\n`);
  assert.ok(i.dialled >= 3, 'it tried every peer');
  assert.deepEqual([i.connected, i.statusAnswers, i.published], [0, 0, 0], 'no connection, no status, no gossip delivered');
  // At least one whole flood (1000 future first parts, 21 steps of partial parts and tenfold headers) reached the peers.
  assert.ok(m.published > 1300 && m.statusAnswers >= 3, 'the member was connected and its flood delivered');
  // The peers are alike (same model, same data sizes): the most any of them reached unattacked.
  const cleanPeak = Math.max(...clean.member.peakMemory);
  for (let p = 0; p < 3; p++) {
    // Held for partial contributions: at most MAX_PENDING_STEPS_PER_AUTHOR steps of one contribution per member.
    assert.ok(m.peakPending[p] <= PENDING_BOUND, `peer ${p} held ${mib(m.peakPending[p])} MiB of partial contributions`);
    assert.ok(m.peakMemory[p] <= cleanPeak + MEMORY_MARGIN, `peer ${p}: heap and buffers peaked at ${mib(m.peakMemory[p])} MiB, ${mib(cleanPeak)} MiB without the attack`);
  }
  assert.equal(attacked.hash, clean.hash, 'bit-identical to the run without the attackers');
  for (const l of attacked.logs) {
    const steps = l.filter((x) => x.event === 'sync.step');
    assert.equal(steps.length, 20);
    assert.ok(steps.every((s) => s.contributors === 3), 'every step had exactly the three members');
    assert.equal(l.filter((x) => /timeout|dropped_member|member\.dropped/.test(x.event)).length, 0, 'nobody was waited for');
    // Its hash announcements for a step the run never reaches were not kept, and said once.
    const refused = l.filter((x) => x.event === 'hash.refused');
    assert.deepEqual(refused.map((x) => [x.from, x.version]), [[m.peerId, 999]], `hash.refused lines: ${JSON.stringify(refused)}`);
  }
});

async function fedAvgRun(attack: boolean): Promise<Attacked & { checkpoint: Buffer; agg: LogLine[]; trainers: LogLine[][] }> {
  const c = new Cluster(`hostile-fedavg-${attack ? 'attacked' : 'clean'}`);
  try {
    const agg = await c.key('agg');
    const keys = await Promise.all([0, 1, 2].map((i) => c.key(`t${i}`)));
    const port = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    const run = c.writeRun('run', mnistRun('hostile-fedavg', 3, { rounds: 3, data: { trainRows: 3000, testRows: 1000, partition: { kind: 'iid' }, shares: 3 }, admission: { psk: { env: 'FEDNODE_HOSTILE_PSK' } }, network: { aggregator: aggAddr } }));
    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--log-level', 'debug']);
    await waitForLog(a.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, 'the aggregator to start');
    const ts = keys.map((k, i) => c.start(`t${i}`, ['--config', run, '--role', 'trainer', '--key', k.path, '--data-dir', c.dataDir(`t${i}`), '--shard', String(i), '--log-level', 'debug']));
    const exited = within(a.exited, 150_000, 'the aggregator');
    const intruder = attack ? intrude('hostile-fedavg', () => [aggAddr], exited) : Promise.resolve(null);
    const member = misbehave('hostile-fedavg', PSK, () => [aggAddr], exited, { passive: !attack, pushTo: aggAddr });
    assert.equal((await exited).code, 0);
    for (const t of ts) await within(t.exited, 30_000, t.name);
    return { checkpoint: readFileSync(join(c.dataDir('agg'), 'aggregator', 'checkpoints', 'v00000003.safetensors')), intruder: await intruder, member: await member, agg: readLog(a.log), trainers: ts.map((t) => readLog(t.log)) };
  } finally {
    await c.close();
  }
}

test('hostile: an intruder without the key and a member forging the aggregator cannot touch a federated FedAvg run: the final checkpoint is the clean run\'s, byte for byte', LIMIT, async () => {
  const clean = await fedAvgRun(false);
  const attacked = await fedAvgRun(true);
  const i = attacked.intruder!;
  const m = attacked.member;
  dumpSamples('fedavg', clean.member, m);
  process.stdout.write(`# intruder (federated): ${JSON.stringify(i)}\n`);
  process.stdout.write(`# member (federated): ${JSON.stringify({ ...m, samples: m.samples.length, peakMemoryMiB: m.peakMemory.map(mib), cleanPeakMemoryMiB: clean.member.peakMemory.map(mib) })}\n`);
  assert.ok(i.dialled >= 1);
  assert.deepEqual([i.connected, i.statusAnswers, i.published], [0, 0, 0]);
  assert.ok(m.published > 0 && m.statusAnswers > 0, 'the member was connected');
  // Its RoundOpen and ModelAnnounce died at the aggregator, its only connection, which refused them before relaying.
  const refused = new Set(attacked.agg.filter((l) => l.event === 'gossip.dropped' && l.from === m.peerId).map((l) => String(l.why)));
  assert.ok(refused.has('roundOpen from a peer that may not send it') && refused.has('modelAnnounce from a peer that may not send it'), `the aggregator refused the forgeries: ${[...refused].join('; ')}`);
  for (const [t, log] of attacked.trainers.entries()) {
    assert.equal(log.filter((l) => l.from === m.peerId).length, 0, `trainer ${t} never saw a control message of the member's`);
  }
  assert.equal(m.accepted, 0, 'no malformed update accepted');
  // A header ten times the model, and an update for a round 1000 ahead: each refused with its own code.
  // (After the last round, RUN_COMPLETE.)
  assert.ok((m.refusals.UPDATE_SHAPE ?? 0) > 0 && (m.refusals.WRONG_ROUND ?? 0) > 0, `malformed updates refused by name: ${JSON.stringify(m.refusals)}`);
  assert.ok(m.peakMemory[0] <= Math.max(...clean.member.peakMemory) + MEMORY_MARGIN, `the aggregator's heap and buffers peaked at ${mib(m.peakMemory[0])} MiB, ${mib(clean.member.peakMemory[0])} MiB without the attack`);
  // The tensors, not the file: its metadata names the trainers' peer ids, fresh in each run.
  const tensors = (b: Buffer) => parseSafetensors(b).tensors.map((t) => [t.name, Buffer.from(t.bytes).toString('base64')]);
  assert.deepEqual(tensors(attacked.checkpoint), tensors(clean.checkpoint), 'the same final model, bit for bit');
  const closed = attacked.agg.filter((l) => l.event === 'round.closed');
  assert.deepEqual(closed.map((l) => (l.peers as string[]).length), [3, 3, 3], 'every round closed with its three trainers, not at a deadline');
});
