/**
 * Experts assembled into a mixture as a one-shot run on real processes: three trainers
 * specialise a dense transformer (the run's `initialModel`) on SOTU eras, the aggregator is
 * SIGKILLed right after acknowledging the third model and restarted, then assembles the
 * specialists into a mixture of experts and trains its routers. Version 1 is that mixture,
 * equal bit for bit to `fednode merge --method moe` of the same specialists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensors, paramSetToSafetensors, parseSafetensors, tasks, ParamSet } from '@fednode/core';
import { Cluster, fednodeSync, freePort, readLog, waitForLog, within } from './cluster.js';

const LIMIT = { timeout: 240_000 };
const TRAINERS = 3;
const MODEL = { layers: 1, dModel: 32, heads: 2, headDim: 16, ffDim: 64, seqLen: 32 };
const ROUTER = { routerSteps: 12, routerBatch: 8, routerLr: 0.01, seed: 3 };

function tensorsOf(path: string): Map<string, Uint8Array> {
  return new Map(parseSafetensors(new Uint8Array(readFileSync(path))).tensors.map((t) => [t.name, t.bytes]));
}

test('one-shot expert assembly: specialists of a dense base become a mixture of experts, through an aggregator restart, equal to fednode merge --method moe', LIMIT, async () => {
  const c = new Cluster('experts');
  try {
    const dense = tasks.createTask('transformer', { dataset: 'sotu', model: MODEL });
    // The dense base: another seed's initialisation than the run's, so version 0 must be read from the file.
    const base = dense.initialParams(77);
    const basePath = join(c.dir, 'base.safetensors');
    writeFileSync(basePath, Buffer.concat(encodeSafetensors(paramSetToSafetensors(base, 'F32'), { format: 'pt' })));

    const agg = await c.key('agg');
    const port = await freePort();
    const run = c.writeRun('run', {
      run: 'experts',
      seed: 1,
      task: { name: 'transformer', dataset: 'sotu', model: MODEL },
      initialModel: 'base.safetensors',
      data: { testRows: 256, partition: { kind: 'eras' }, shares: TRAINERS },
      codec: { codec: 'fp32' },
      strategy: { kind: 'oneshot', method: { kind: 'moe', ...ROUTER }, deadlineS: 60, minParticipants: 2, cohort: TRAINERS },
      rounds: 1,
      local: { steps: 15, batch: 8, lr: 0.003, optimizer: 'adamw' },
      limits: { timeoutS: 20, pollS: 0.5, lingerS: 0.5 },
      network: { aggregator: `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}` },
    });
    const aggArgs = ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`];
    const first = c.start('agg', aggArgs, { FEDNODE_FAULT: `kill-after-ack:${TRAINERS}` });
    const trainers = [];
    for (let i = 0; i < TRAINERS; i++) {
      const k = await c.key(`t${i}`);
      trainers.push(c.start(`t${i}`, ['--config', run, '--role', 'trainer', '--key', k.path, '--data-dir', c.dataDir(`t${i}`), '--shard', String(i)]));
    }
    assert.equal((await within(first.exited, 120_000, 'the aggregator to die after its last acknowledgement')).signal, 'SIGKILL');
    assert.equal(readLog(first.log).find((l) => l.event === 'aggregator.initialised')?.from, basePath);

    const second = c.start('agg-restarted', aggArgs);
    const replayed = await waitForLog(second.log, (ls) => ls.find((l) => l.event === 'wal.replayed'), 30_000, 'the restarted aggregator to reload the models');
    assert.equal(replayed.applied, TRAINERS);
    assert.equal((await within(second.exited, 120_000, 'the restarted aggregator to assemble and exit')).code, 0);
    for (const t of trainers) assert.equal((await within(t.exited, 30_000, `${t.name} to exit`)).code, 0);

    const lines = readLog(second.log);
    const assembled = lines.find((l) => l.event === 'oneshot.assembled');
    const merged = lines.find((l) => l.event === 'oneshot.merged');
    assert.equal(assembled?.experts, TRAINERS);
    assert.equal(assembled?.router_steps, ROUTER.routerSteps);
    assert.equal(merged?.method, 'moe');
    assert.ok(Number.isFinite(merged?.loss), `the mixture was evaluated: loss ${String(merged?.loss)}`);
    // Scored beside it on the same windows: each specialist and their plain average.
    const compared = merged?.compared_loss as Record<string, number>;
    assert.deepEqual(Object.keys(compared).sort(), [...(merged?.participants as string[]), 'average'].sort());
    assert.ok(Object.values(compared).every(Number.isFinite));

    // Version 0 is the file's model, bit for bit.
    const ckDir = join(c.dataDir('agg'), 'aggregator', 'checkpoints');
    const v0 = tensorsOf(join(ckDir, 'v00000000.safetensors'));
    const want0 = tensorsOf(basePath);
    assert.deepEqual([...v0.keys()].sort(), [...want0.keys()].sort());
    for (const [n, b] of want0) assert.equal(Buffer.compare(Buffer.from(b), Buffer.from(v0.get(n)!)), 0, `version 0 ${n}`);

    // Version 1 has the mixture's layout.
    const moe = tasks.createTask('moe-transformer', { dataset: 'sotu', model: { ...MODEL, experts: TRAINERS, topK: TRAINERS, expertFfDim: MODEL.ffDim } });
    const v1 = tensorsOf(join(ckDir, 'v00000001.safetensors'));
    assert.deepEqual([...v1.keys()].sort(), moe.specs.map((s) => s.name).sort());

    // The specialists as the strategy state holds them (version 0 plus each model's delta, in merge order) ...
    const state = new Map(parseSafetensors(new Uint8Array(readFileSync(join(ckDir, 'v00000001.state')))).tensors.map((t) => [t.name, t.bytes]));
    const f32 = (b: Uint8Array): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    const baseFlat = f32(state.get('base')!);
    const inputs: string[] = [];
    for (let i = 0; i < TRAINERS; i++) {
      const delta = f32(state.get(`received.${i}`)!);
      const p = ParamSet.wrap(dense.specs, baseFlat.slice());
      for (let j = 0; j < p.data.length; j++) p.data[j] += delta[j];
      assert.ok(delta.some((d) => d !== 0), `specialist ${i} trained`);
      const path = join(c.dir, `specialist-${i}.safetensors`);
      writeFileSync(path, Buffer.concat(encodeSafetensors(paramSetToSafetensors(p, 'F32'), { format: 'pt' })));
      inputs.push(path);
    }
    // ... merged by the command: the same mixture, tensor for tensor.
    const out = join(c.dir, 'moe.safetensors');
    const r = fednodeSync(['merge', ...inputs, '--method', 'moe', '--task', 'transformer', '--dataset', 'sotu', ...Object.entries(MODEL).flatMap(([k, v]) => ['--model-size', `${k}=${v}`]),
      '--router-steps', String(ROUTER.routerSteps), '--router-batch', String(ROUTER.routerBatch), '--router-lr', String(ROUTER.routerLr), '--seed', String(ROUTER.seed), '--out', out], 120_000);
    assert.equal(r.status, 0, r.stderr);
    const cli = tensorsOf(out);
    const differing = [...cli].filter(([n, b]) => Buffer.compare(Buffer.from(b), Buffer.from(v1.get(n) ?? new Uint8Array())) !== 0).map(([n]) => n);
    assert.deepEqual(differing, [], 'every tensor of the run\'s mixture equals the command\'s');
    process.stdout.write(`# mixture of ${TRAINERS} experts, ${v1.size} tensors equal to fednode merge --method moe; router loss ${String(assembled?.router_first_loss)} -> ${String(assembled?.router_last_loss)}; held-out loss ${String(merged?.loss)} against ${JSON.stringify(compared)}\n`);
  } finally {
    await c.close();
  }
});
