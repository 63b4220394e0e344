/**
 * The daemon end to end: real `fednode start` processes (the built CLI) on 127.0.0.1, MNIST
 * MLP, int8 updates with error feedback. Each test owns its processes and kills them in
 * `finally`. What they show (issue 6's acceptance):
 *  - one aggregator and four trainers run 5 FedAvg rounds; test accuracy rises every round
 *    and ends >= 0.90; a peer not admitted, a malformed stream and an oversized update are
 *    refused with a reason while the others go on; status and /metrics answer;
 *  - a trainer killed (SIGKILL) mid-round: the round closes at its deadline with the others,
 *    and the restarted trainer contributes to a later round;
 *  - the aggregator killed (SIGKILL) right after acknowledging an update resumes from its
 *    checkpoint and write-ahead log at the same version, and the run ends with parameters
 *    identical, bit for bit, to an uninterrupted run of the same seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParamSet, decodeUpdateAck, encodeUpdate, fullSlice, parseSafetensors } from '@fednode/core';
import { Admission, UPDATE_PROTOCOL, NetError, createHost, loadIdentity, networkKeyOf, openStream, pushUpdate, writeFrame, FrameReader } from '@fednode/node';
import { Cluster, fednodeSync, freePort, mnistRun, readLog, waitForLog, within, type LogLine } from './cluster.js';

const LIMIT = { timeout: 180_000 };
const EXIT_MS = 90_000;

const PSK = 'e2e-pre-shared-key-0123456789';

function events(lines: LogLine[], event: string): LogLine[] {
  return lines.filter((l) => l.event === event);
}

test('one aggregator and four trainers: 5 FedAvg rounds, accuracy rises to >= 0.90; intruders and bad streams are refused', LIMIT, async () => {
  const c = new Cluster('fedavg');
  const hosts: Awaited<ReturnType<typeof createHost>>[] = [];
  try {
    const agg = await c.key('agg');
    const trainers = await Promise.all([0, 1, 2, 3].map((i) => c.key(`t${i}`)));
    const tester = await c.key('tester');
    writeFileSync(join(c.dir, 'psk'), PSK + '\n', { mode: 0o600 });
    const port = await freePort();
    const metricsPort = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    const run = c.writeRun(
      'run',
      mnistRun('e2e-fedavg', 4, {
        admission: { allow: [agg.peerId, ...trainers.map((t) => t.peerId), tester.peerId], psk: { file: 'psk' } },
        network: { aggregator: aggAddr },
        // Updates of this MLP are ~0.2 MB in int8 (0.8 MB fp32): anything declaring more is refused.
        limits: { timeoutS: 10, pollS: 0.5, lingerS: 2, wire: { maxTotalBytes: 4 * 1024 * 1024 } },
      }),
    );
    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--metrics-port', String(metricsPort)]);
    const ts = trainers.map((t, i) => c.start(`t${i}`, ['--config', run, '--role', 'trainer', '--key', t.path, '--data-dir', c.dataDir(`t${i}`), '--shard', String(i)]));
    await waitForLog(a.log, (l) => events(l, 'node.started')[0], 60_000, 'the aggregator to start');

    // Nobody outside the run gets a connection: not a peer off the allowlist that knows the key
    // (the aggregator closes it once noise proves its peer id), not one without the key (the
    // private network derived from the key never completes).
    const networkKey = networkKeyOf(PSK, 'e2e-fedavg');
    const delta = ParamSet.zeros([{ name: 'w', shape: [10] }]);
    const tiny = encodeUpdate({ runId: 'e2e-fedavg', sender: 'me', baseVersion: 0, round: 0, sequence: 1, examples: 1 }, fullSlice(delta.specs), delta, { codec: 'fp32' });
    for (const intruder of [await createHost({ networkKey }), await createHost()]) {
      hosts.push(intruder);
      const intruderAdmission = new Admission(intruder, { psk: PSK });
      await intruderAdmission.start();
      await assert.rejects(pushUpdate(intruder, aggAddr, tiny, { admission: intruderAdmission, timeoutMs: 10_000 }), (e: unknown) => e instanceof NetError && /NET_(CLOSED|TIMEOUT)/.test(e.code));
      assert.equal(intruder.getConnections().length, 0, 'no connection stays open');
    }

    // An admitted peer sending garbage, then an update far over the run's size limit.
    const t = await createHost({ privateKey: loadIdentity(tester.path), networkKey });
    hosts.push(t);
    const tAdmission = new Admission(t, { psk: PSK });
    await tAdmission.start();
    const { stream } = await openStream(t, aggAddr, UPDATE_PROTOCOL, { timeoutMs: 10_000, admission: tAdmission });
    const reader = new FrameReader(stream, { maxFrameBytes: 65536, timeoutMs: 10_000 });
    await writeFrame(stream, Buffer.from('this is not an update header, just bytes'), { timeoutMs: 10_000 });
    const answer = await reader.next();
    reader.dispose();
    assert.ok(answer !== null, 'the aggregator answers a malformed stream');
    const ack = decodeUpdateAck(answer);
    assert.equal(ack.accepted, false);
    assert.match(ack.code, /^WIRE_/);
    assert.ok(ack.reason.length > 0);
    const huge = ParamSet.zeros([{ name: 'w', shape: [4 * 1024 * 1024] }]); // 16 MiB of fp32
    const big = encodeUpdate({ runId: 'e2e-fedavg', sender: 'me', baseVersion: 0, round: 0, sequence: 1, examples: 1 }, fullSlice(huge.specs), huge, { codec: 'fp32' });
    await assert.rejects(pushUpdate(t, aggAddr, big, { admission: tAdmission, timeoutMs: 10_000 }), (e: unknown) => e instanceof NetError && e.remoteCode === 'WIRE_LIMIT');
    // The right size, the wrong tensors: refused at the header, before the payload.
    await assert.rejects(pushUpdate(t, aggAddr, tiny, { admission: tAdmission, timeoutMs: 10_000 }), (e: unknown) => e instanceof NetError && e.remoteCode === 'UPDATE_SHAPE');

    // Status and metrics while the run goes on.
    // The operator asks as a member: the run's key and an identity on the allowlist.
    const st = fednodeSync(['status', '--connect', aggAddr, '--config', run, '--key', tester.path, '--json']);
    assert.equal(st.status, 0, st.stderr);
    const status = JSON.parse(st.stdout) as { runId: string; roles: string[]; aggregator: { version: number; rounds: number } };
    assert.equal(status.runId, 'e2e-fedavg');
    assert.deepEqual(status.roles, ['aggregator']);
    assert.equal(status.aggregator.rounds, 5);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /# TYPE fednode_model_version gauge/);
    assert.doesNotMatch(metrics, /fednode_updates_refused_total\{code="NOT_ADMITTED"\}/, 'intruders never reached the update protocol');

    const exit = await within(a.exited, EXIT_MS, 'the aggregator to finish');
    assert.equal(exit.code, 0, 'the aggregator exits 0 once the run is complete');
    for (const p of ts) assert.equal((await within(p.exited, EXIT_MS, p.name)).code, 0, `${p.name} exits 0`);
    const lines = readLog(a.log);
    const closed = events(lines, 'round.closed');
    assert.deepEqual(closed.map((l) => l.version), [1, 2, 3, 4, 5]);
    for (const l of closed) assert.equal((l.peers as string[]).length, 4, `round ${l.round} had every trainer`);
    const acc = events(lines, 'version.evaluated').map((l) => l.accuracy as number);
    assert.equal(acc.length, 5);
    for (let i = 1; i < acc.length; i++) assert.ok(acc[i] > acc[i - 1], `accuracy rises every round: ${acc.join(', ')}`);
    assert.ok(acc[4] >= 0.9, `final accuracy ${acc[4]}`);
    const refused = events(lines, 'update.refused').map((l) => l.code);
    for (const code of ['WIRE_DECODE', 'WIRE_LIMIT', 'UPDATE_SHAPE']) assert.ok(refused.includes(code), `${code} logged: ${refused.join(', ')}`);
    assert.ok(!refused.includes('NOT_ADMITTED'), 'no intruder got as far as a refusal');
  } finally {
    await Promise.all(hosts.map((h) => Promise.resolve(h.stop()).catch(() => undefined)));
    await c.close();
  }
});

test('a trainer killed mid-round: the round closes at its deadline with the others; the restarted trainer rejoins', LIMIT, async () => {
  const c = new Cluster('trainer-kill');
  try {
    const agg = await c.key('agg');
    const keys = await Promise.all([0, 1, 2, 3].map((i) => c.key(`t${i}`)));
    const port = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    const run = c.writeRun(
      'run',
      mnistRun('e2e-trainer-kill', 4, { rounds: 4, strategy: { kind: 'fedavg', cohort: 4, deadlineS: 6, minParticipants: 3 }, network: { aggregator: aggAddr } }),
    );
    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
    const args = (i: number) => ['--config', run, '--role', 'trainer', '--key', keys[i].path, '--data-dir', c.dataDir(`t${i}`), '--shard', String(i)];
    for (let i = 0; i < 3; i++) c.start(`t${i}`, args(i));
    // Trainer 3 dies (SIGKILL, by its own hand for exact timing) right after pulling round 1's model.
    const victim = c.start('t3', args(3), { FEDNODE_FAULT: 'kill-after-pull:1' });
    const died = await within(victim.exited, EXIT_MS, 'the trainer to be killed');
    assert.equal(died.signal, 'SIGKILL');
    const killedIn = (readLog(victim.log).find((l) => l.event === 'fault.kill')?.after_pull_round as number) ?? -1;
    assert.ok(killedIn >= 1);

    // Its round closes at the deadline with the three others.
    const closedLine = await waitForLog(a.log, (l) => events(l, 'round.closed').find((x) => x.round === killedIn), 60_000, `round ${killedIn} to close`);
    const opened = events(readLog(a.log), 'round.opened').find((x) => x.round === killedIn)!;
    assert.equal((closedLine.peers as string[]).length, 3);
    assert.ok(!(closedLine.peers as string[]).includes(keys[3].peerId));
    assert.ok(Date.parse(closedLine.t) >= (opened.deadline_unix_ms as number), 'closed at the deadline, not before');

    // Restarted on the same data directory and key, it contributes to a later round.
    const back = c.start('t3', args(3));
    const rejoined = await waitForLog(a.log, (l) => events(l, 'update.accepted').find((x) => x.peer === keys[3].peerId && (x.round as number) > killedIn), 60_000, 'the restarted trainer to contribute');
    assert.ok((rejoined.round as number) > killedIn);
    assert.equal((await within(a.exited, EXIT_MS, 'the aggregator')).code, 0);
    assert.equal((await within(back.exited, EXIT_MS, 'the restarted trainer')).code, 0);
    const state = JSON.parse(readFileSync(join(c.dir, 't3', 'trainer', 'trainer.json'), 'utf8')) as { nextSequence: number };
    // Sequences were reserved before each push: the killed round's was never reused.
    const seqs = events(readLog(a.log), 'update.accepted').filter((x) => x.peer === keys[3].peerId).map((x) => x.sequence as number);
    assert.equal(new Set(seqs).size, seqs.length);
    assert.ok(state.nextSequence > Math.max(...seqs));
  } finally {
    await c.close();
  }
});

/** The final model's tensors from a data directory's checkpoint. */
function finalParams(dataDir: string, version: number): Map<string, Buffer> {
  const file = parseSafetensors(readFileSync(join(dataDir, 'aggregator', 'checkpoints', `v${String(version).padStart(8, '0')}.safetensors`)));
  return new Map(file.tensors.map((t) => [t.name, Buffer.from(t.bytes)]));
}

test('the aggregator killed right after an acknowledgement resumes at the same version; the result matches an uninterrupted run bit for bit', LIMIT, async () => {
  const c = new Cluster('agg-kill');
  try {
    const rounds = 3;
    // Two clusters side by side: the reference (never killed) and the one whose aggregator dies.
    const setups = await Promise.all(
      ['ref', 'crash'].map(async (name) => {
        const agg = await c.key(`${name}-agg`);
        const port = await freePort();
        const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
        // Other identities than the reference's: the aggregator's order must not depend on them.
        const run = c.writeRun(`${name}`, mnistRun(`e2e-agg-kill`, 2, { rounds, data: { trainRows: 3000, testRows: 1000, partition: { kind: 'iid' }, shares: 2 }, strategy: { kind: 'fedavg', cohort: 2 }, network: { aggregator: aggAddr } }));
        return { name, agg, port, run, dir: c.dataDir(`${name}-agg`) };
      }),
    );
    const aggArgs = (s: (typeof setups)[number]) => ['--config', s.run, '--role', 'aggregator', '--key', s.agg.path, '--data-dir', s.dir, '--listen', `/ip4/127.0.0.1/tcp/${s.port}`];
    const [ref, crash] = setups;
    const refAgg = c.start('ref-agg', aggArgs(ref));
    // The third acknowledgement is the first of round 1.
    const crashAgg = c.start('crash-agg', aggArgs(crash), { FEDNODE_FAULT: 'kill-after-ack:3' });
    const trainers = setups.flatMap((s) => [0, 1].map((i) => c.start(`${s.name}-t${i}`, ['--config', s.run, '--role', 'trainer', '--data-dir', c.dataDir(`${s.name}-t${i}`), '--shard', String(i)])));

    const died = await within(crashAgg.exited, EXIT_MS, 'the aggregator to be killed');
    assert.equal(died.signal, 'SIGKILL');
    const before = readLog(crashAgg.log);
    const acked = events(before, 'update.accepted');
    assert.equal(acked.length, 3);
    assert.deepEqual(acked.map((l) => l.round), [0, 0, 1]);

    const again = c.start('crash-agg', aggArgs(crash));
    await waitForLog(again.log, (l) => events(l.slice(before.length), 'node.started')[0], 60_000, 'the aggregator to restart');
    const second = readLog(again.log).slice(before.length);
    const resumed = events(second, 'aggregator.resumed')[0];
    assert.equal(resumed.version, 1, 'resumes at the version it had');
    const replay = events(second, 'wal.replayed')[0];
    assert.ok(replay !== undefined, 'the write-ahead log was replayed');
    assert.equal(replay.applied, 1, 'the acknowledged update of round 1 is applied once');

    for (const p of [refAgg, again, ...trainers]) assert.equal((await within(p.exited, EXIT_MS, p.name)).code, 0, `${p.name} exits 0`);
    // Each trainer's update of each round was taken exactly once across both lives.
    const key = (l: LogLine) => `${l.peer}/${l.round}`;
    // The log file is shared by both lives: the second one's lines follow the first's.
    const taken = [...acked, ...events(readLog(again.log).slice(before.length), 'update.accepted')].map(key);
    assert.equal(taken.length, 2 * rounds, taken.join(' '));
    assert.equal(new Set(taken).size, 2 * rounds, taken.join(' '));

    const a = finalParams(ref.dir, rounds);
    const b = finalParams(crash.dir, rounds);
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${name} is identical bit for bit`);
  } finally {
    await c.close();
  }
});
