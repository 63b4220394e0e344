import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { ParamSet, extractSlice, resolveSlice, tasks } from '../src/index.js';

const TINY_LM = { seqLen: 16, dModel: 16, heads: 2, headDim: 8, ffDim: 32, layers: 2 };
const CASES: { name: string; dataset: string; model?: Record<string, number>; trainRows?: number; sub?: tasks.SubnetSpec; steps: number; lr: number; partition: tasks.PartitionSpec }[] = [
  { name: 'mlp', dataset: 'mnist', trainRows: 2000, sub: { width: 0.25 }, steps: 30, lr: 0.05, partition: { kind: 'iid' } },
  { name: 'cnn', dataset: 'fashion-mnist', trainRows: 600, steps: 8, lr: 0.05, partition: { kind: 'iid' } },
  { name: 'transformer', dataset: 'sotu', model: TINY_LM, sub: { width: 0.5, depth: 1 }, steps: 30, lr: 0.01, partition: { kind: 'natural' } },
  { name: 'moe-transformer', dataset: 'moby-dick', model: { ...TINY_LM, experts: 4, topK: 2, expertFfDim: 16 }, sub: { experts: [1, 3] }, steps: 30, lr: 0.01, partition: { kind: 'iid' } },
];

for (const c of CASES) {
  test(`task ${c.name} on ${c.dataset}: a share trains, held-out loss falls, its slice trains, and the export runs in a plain InferenceSession`, async () => {
    const task = tasks.createTask(c.name, { dataset: c.dataset, ...(c.model ? { model: c.model } : {}), ...(c.trainRows ? { trainRows: c.trainRows } : {}) });
    const share = task.share(3, 1, c.partition, 7);
    assert.ok(share.examples > 0);
    for (const spec of [{}, ...(c.sub ? [c.sub] : [])]) {
      const sub = task.subnet(spec);
      const init = task.initialParams(7);
      const local = sub.slice === null ? init : extractSlice(init, resolveSlice(sub.slice, init.specs));
      const d = task.defaults;
      const trainer = await tasks.createLearner(sub, { optimizer: d.optimizer, lr: c.lr, seed: 7, clipGradNorm: d.clipGradNorm, threads: 1 });
      try {
        await trainer.setParams(local);
        const before = await tasks.evaluateOn(trainer, task, 256);
        const r = await tasks.trainLocal(trainer, share, { budget: { steps: c.steps }, batch: 16, lr: c.lr, schedule: { kind: 'constant' }, seed: 3 });
        const after = await tasks.evaluateOn(trainer, task, 256);
        assert.equal(r.steps, c.steps);
        assert.ok(after.loss < before.loss, `${c.name} ${sub.label}: held-out loss ${before.loss} -> ${after.loss}`);
        const bytes = sub.exportOnnx(await trainer.params());
        const s = await ort.InferenceSession.create(bytes);
        assert.deepEqual(s.inputNames, ['x']);
        await s.release();
      } finally {
        await trainer.close();
      }
    }
  });
}

test('tasks refuse what does not apply, naming it', () => {
  const cnn = tasks.createTask('cnn', { dataset: 'mnist' });
  assert.throws(() => cnn.subnet({ width: 0.5 }), /width does not apply: cnn is trained whole/);
  const mlp = tasks.createTask('mlp', { dataset: 'mnist' });
  assert.throws(() => mlp.subnet({ experts: [0] }), /experts does not apply: mlp slices by width, depth/);
  assert.throws(() => tasks.createTask('mlp', { dataset: 'sotu' }), /mlp trains on mnist or fashion-mnist, not sotu/);
  assert.throws(() => tasks.createTask('resnet', { dataset: 'mnist' }), /no task "resnet"; known: mlp, cnn, transformer, moe-transformer/);
  const lm = tasks.createTask('transformer', { dataset: 'moby-dick', model: TINY_LM });
  assert.throws(() => lm.share(2, 0, { kind: 'natural' }, 1), /partition natural needs several speakers/);
  assert.equal(mlp.subnet({ width: 1, depth: 2 }).slice, null, 'width 1 at full depth is the whole model');
  assert.equal(mlp.subnet({ width: 0.5 }).label, 'width 0.5');
});

test('shares of a natural SOTU partition are disjoint presidents and cover them all', () => {
  const lm = tasks.createTask('transformer', { dataset: 'sotu', model: TINY_LM });
  const parts = [0, 1, 2, 3].map((i) => lm.share(4, i, { kind: 'natural' }, 1));
  const all = lm.share(4, null, { kind: 'natural' }, 1);
  assert.equal(parts.reduce((n, p) => n + p.examples, 0), all.examples);
  const p = lm.initialParams(5);
  assert.ok(p instanceof ParamSet && p.size > 0);
  assert.deepEqual(lm.initialParams(5).data, p.data, 'seeded initialisation');
});

test('image shares: every row once across shares (whatever order they are asked in); labels as many as the task says', () => {
  const mlp = tasks.createTask('mlp', { dataset: 'mnist', trainRows: 3000 });
  const count = (p: tasks.PartitionSpec, order: number[]) => order.map((i) => mlp.share(5, i, p, 9).examples);
  for (const p of [{ kind: 'iid' }, { kind: 'dirichlet', alpha: 0.5 }, { kind: 'shards', perClient: 2 }] as tasks.PartitionSpec[]) {
    const asc = count(p, [0, 1, 2, 3, 4]);
    assert.equal(asc.reduce((a, b) => a + b, 0), 3000, `${p.kind}: every row in one share`);
    // Interleaving partitions must not mix them up (the partition is remembered per shares, kind and seed).
    assert.deepEqual(count(p, [4, 3, 2, 1, 0]).reverse(), asc, p.kind);
    mlp.share(7, 0, { kind: 'iid' }, 1);
  }
  let labels = 0;
  for (const b of mlp.share(1, 0, { kind: 'iid' }, 1).epoch(3000, 1, 0)) labels = Math.max(labels, ...Array.from(b.feeds.y.data as BigInt64Array, Number));
  assert.equal(labels + 1, mlp.classes);
  assert.equal(tasks.createTask('transformer', { dataset: 'sotu', model: TINY_LM }).classes, null);
});

test('FedProx mu = 0 trains bit for bit like plain local training; mu > 0 pulls toward the anchor', async () => {
  const task = tasks.createTask('mlp', { dataset: 'mnist', trainRows: 600 });
  const sub = task.subnet();
  const share = task.share(2, 0, { kind: 'iid' }, 1);
  const init = task.initialParams(1);
  const run = async (mu: number | undefined) => {
    const t = await tasks.createLearner(sub, { optimizer: { kind: 'sgd', momentum: 0.9 }, lr: 0.05, seed: 1, threads: 1, ...(mu === undefined ? {} : { proximalMu: mu }) });
    try {
      await t.setParams(init);
      await tasks.trainLocal(t, share, { budget: { steps: 10 }, batch: 32, lr: 0.05, schedule: { kind: 'constant' }, seed: 2 });
      return (await t.params()).data;
    } finally {
      await t.close();
    }
  };
  const plain = await run(undefined);
  const zero = await run(0);
  assert.deepEqual(Buffer.from(zero.buffer), Buffer.from(plain.buffer), 'mu = 0 is plain training, bit for bit');
  const dist = (a: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - init.data[i]) ** 2, 0));
  const strong = await run(10);
  assert.ok(dist(strong) < dist(plain) * 0.8, `mu 10 stays nearer the anchor: ${dist(strong)} vs ${dist(plain)}`);
});
