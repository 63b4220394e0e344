/**
 * One-shot merging on real processes: a run with 1 aggregator and 5 trainers, one trainer
 * SIGKILLed before it reports and the aggregator SIGKILLed right after acknowledging three
 * models and restarted, merges (TIES) exactly the parameters of an undisturbed run of the
 * same four trainers, bit for bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors } from '@fednode/core';
import { Cluster, freePort, mnistRun, readLog, waitForLog, within, type LogLine, type Proc } from './cluster.js';

const LIMIT = { timeout: 150_000 };
const KEPT = 4;
/** The disturbed run waits for its fifth model until this deadline (counted again from the restart). */
const DEADLINE_S = 15;

type Key = { path: string; peerId: string };

function oneshotRun(name: string, aggAddr: string, cohort: number): Record<string, unknown> {
  return mnistRun(name, 5, {
    data: { trainRows: 2500, testRows: 1000, partition: { kind: 'iid' }, shares: 5 },
    codec: { codec: 'fp32' },
    strategy: { kind: 'oneshot', method: { kind: 'ties', density: 0.3, lambda: 1 }, deadlineS: DEADLINE_S, minParticipants: 3, cohort },
    rounds: 1,
    network: { aggregator: aggAddr },
  });
}

function accepted(log: string): LogLine[] {
  return readLog(log).filter((l) => l.event === 'update.accepted');
}

/** The tensors of version 1 in an aggregator's data dir, by name (bytes only, not the file's metadata). */
function mergedTensors(aggDir: string): Map<string, Uint8Array> {
  const file = parseSafetensors(new Uint8Array(readFileSync(join(aggDir, 'aggregator', 'checkpoints', 'v00000001.safetensors'))));
  return new Map(file.tensors.map((t) => [t.name, t.bytes]));
}

async function startTrainers(c: Cluster, run: string, keys: readonly Key[], env: (i: number) => Record<string, string> = () => ({})): Promise<Proc[]> {
  return keys.map((k, i) => c.start(`t${i}`, ['--config', run, '--role', 'trainer', '--key', k.path, '--data-dir', c.dataDir(`t${i}`), '--shard', String(i)], env(i)));
}

test('one-shot run: a trainer killed before it reports and an aggregator killed after three acknowledgements still merge the undisturbed run\'s parameters, bit for bit', LIMIT, async () => {
  const a = new Cluster('oneshot-disturbed');
  const b = new Cluster('oneshot-calm');
  try {
    // One set of identities for both runs: the merge order is by peer id, so the ids must match.
    const agg = await a.key('agg');
    const keys: Key[] = [];
    for (let i = 0; i <= KEPT; i++) keys.push(await a.key(`t${i}`));
    const kept = keys.slice(0, KEPT).map((k) => k.peerId).sort();
    const victim = keys[KEPT].peerId;

    // 1. Disturbed: five trainers, the fifth dies right after pulling version 0; the aggregator dies after its third ack.
    const portA = await freePort();
    const runA = a.writeRun('run', oneshotRun('oneshot', `/ip4/127.0.0.1/tcp/${portA}/p2p/${agg.peerId}`, 5));
    const aggArgs = ['--config', runA, '--role', 'aggregator', '--key', agg.path, '--data-dir', a.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${portA}`];
    const first = a.start('agg', aggArgs, { FEDNODE_FAULT: 'kill-after-ack:3' });
    const trainersA = await startTrainers(a, runA, keys, (i): Record<string, string> => (i === KEPT ? { FEDNODE_FAULT: 'kill-after-pull:0' } : {}));
    const firstExit = await within(first.exited, 60_000, 'the aggregator to die after its third acknowledgement');
    assert.equal(firstExit.signal, 'SIGKILL');
    const beforeCrash = accepted(first.log);
    assert.equal(beforeCrash.length, 3);
    assert.equal(readLog(first.log).find((l) => l.event === 'fault.kill')?.after_acks, 3);

    const second = a.start('agg-restarted', aggArgs);
    const replayed = await waitForLog(second.log, (ls) => ls.find((l) => l.event === 'wal.replayed'), 30_000, 'the restarted aggregator to reload the received models');
    assert.equal(replayed.applied, 3, 'the three acknowledged models come back from disk');
    // The fifth trainer pulls version 0 from whichever aggregator is up when it is ready, and dies there.
    const victimExit = await within(trainersA[KEPT].exited, 30_000, 'the fifth trainer to be killed');
    assert.equal(victimExit.signal, 'SIGKILL');
    assert.equal(readLog(trainersA[KEPT].log).filter((l) => l.event === 'update.pushed').length, 0, 'the killed trainer reported nothing');
    assert.equal((await within(second.exited, 60_000, 'the restarted aggregator to merge and exit')).code, 0);
    const afterRestart = accepted(second.log);
    assert.equal(afterRestart.length, 1, 'only the model not acknowledged before the crash is sent again');
    const peersA = [...beforeCrash, ...afterRestart].map((l) => l.peer as string).sort();
    assert.deepEqual(peersA, kept, 'each surviving trainer counted once, the killed one never');
    assert.ok(!peersA.includes(victim));
    const mergedA = readLog(second.log).find((l) => l.event === 'oneshot.merged');
    assert.deepEqual(mergedA?.participants, kept);
    assert.equal(mergedA?.method, 'ties');
    for (const t of trainersA.slice(0, KEPT)) assert.equal((await within(t.exited, 30_000, `${t.name} to exit`)).code, 0);

    // 2. Undisturbed: the same four identities and shares; the merge is due once all four are in.
    const portB = await freePort();
    const runB = b.writeRun('run', oneshotRun('oneshot', `/ip4/127.0.0.1/tcp/${portB}/p2p/${agg.peerId}`, KEPT));
    const calm = b.start('agg', ['--config', runB, '--role', 'aggregator', '--key', agg.path, '--data-dir', b.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${portB}`]);
    const trainersB = await startTrainers(b, runB, keys.slice(0, KEPT));
    assert.equal((await within(calm.exited, 60_000, 'the undisturbed aggregator')).code, 0);
    const mergedB = readLog(calm.log).find((l) => l.event === 'oneshot.merged');
    assert.deepEqual(mergedB?.participants, kept);
    for (const t of trainersB) assert.equal((await within(t.exited, 30_000, `${t.name} to exit`)).code, 0);

    // 3. The merged version, tensor by tensor.
    const ta = mergedTensors(a.dataDir('agg'));
    const tb = mergedTensors(b.dataDir('agg'));
    assert.deepEqual([...ta.keys()].sort(), [...tb.keys()].sort());
    assert.ok(ta.size >= 4);
    const differing = [...ta].filter(([name, bytes]) => Buffer.compare(Buffer.from(bytes), Buffer.from(tb.get(name)!)) !== 0).map(([name]) => name);
    assert.deepEqual(differing, [], 'every tensor identical');
    // Not a trivial equality: the merge moved the model away from version 0.
    const v0 = parseSafetensors(new Uint8Array(readFileSync(join(b.dataDir('agg'), 'aggregator', 'checkpoints', 'v00000000.safetensors'))));
    assert.ok(v0.tensors.some((t) => Buffer.compare(Buffer.from(t.bytes), Buffer.from(ta.get(t.name)!)) !== 0));
    assert.ok((mergedA?.accuracy as number) > 0.5, `merged accuracy ${String(mergedA?.accuracy)}`);
    assert.equal(mergedA?.accuracy, mergedB?.accuracy);
    process.stdout.write(`# compared ${ta.size} tensors bit for bit; participants ${kept.join(', ')}; accuracy ${String(mergedA?.accuracy)}\n`);
  } finally {
    await a.close();
    await b.close();
  }
});
