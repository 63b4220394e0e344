/**
 * Every task on every runtime, with tiny budgets: `fednode train`, `fednode simulate`
 * (FedAvg and FedBuff on 3 simulated clients), real daemons (1 aggregator and 3 trainers; FedAvg with int8, and FedBuff) and decentralised DeMo
 * peers (3). Each run's final held-out loss must fall below the initial model's, computed here
 * in-process from the task's seeded initialisation on the same held-out examples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tasks } from '@fednode/core';
import { CLI, Cluster, freePort, readLog, waitForLog, within } from './cluster.js';

const LIMIT = { timeout: 600_000 };
const TINY_LM = { seqLen: 16, dModel: 16, heads: 2, headDim: 8, ffDim: 32, layers: 1 };

interface Case {
  readonly name: string;
  readonly dataset: string;
  readonly model?: Record<string, number>;
  readonly partition: tasks.PartitionSpec;
  readonly trainRows?: number;
  /** Local budget per round (daemons) and the learning rate everywhere. */
  readonly local: Record<string, unknown>;
  readonly demoLr: number;
}

const CASES: Case[] = [
  { name: 'mlp', dataset: 'mnist', partition: { kind: 'iid' }, trainRows: 1500, local: { steps: 10, batch: 32, lr: 0.05, momentum: 0.9 }, demoLr: 0.01 },
  { name: 'cnn', dataset: 'fashion-mnist', partition: { kind: 'iid' }, trainRows: 600, local: { steps: 4, batch: 32, lr: 0.05, momentum: 0.9 }, demoLr: 0.005 },
  { name: 'transformer', dataset: 'sotu', model: TINY_LM, partition: { kind: 'natural' }, local: { steps: 10, batch: 8, lr: 0.01 }, demoLr: 0.01 },
  { name: 'moe-transformer', dataset: 'moby-dick', model: { ...TINY_LM, experts: 4, topK: 2, expertFfDim: 16 }, partition: { kind: 'iid' }, local: { steps: 10, batch: 8, lr: 0.01 }, demoLr: 0.01 },
];
const TEST_ROWS = 256;
const SEED = 1;

const taskOf = (c: Case) => tasks.createTask(c.name, { dataset: c.dataset, ...(c.model ? { model: c.model } : {}), ...(c.trainRows ? { trainRows: c.trainRows } : {}) });
const taskSection = (c: Case) => ({ name: c.name, dataset: c.dataset, ...(c.model ? { model: c.model } : {}) });

/** Held-out loss of the task's seeded initial model on the first `rows` held-out examples. */
async function initialLoss(c: Case): Promise<number> {
  const task = taskOf(c);
  const t = await tasks.createLearner(task.subnet(), { optimizer: { kind: 'sgd', momentum: 0 }, lr: 1, seed: SEED, threads: 1 });
  try {
    await t.setParams(task.initialParams(SEED));
    return (await tasks.evaluateOn(t, task, TEST_ROWS)).loss;
  } finally {
    await t.close();
  }
}

async function daemons(c: Case, strategy: Record<string, unknown>, rounds: number): Promise<number> {
  const cl = new Cluster(`matrix-${c.name}-${strategy.kind as string}`);
  try {
    const agg = await cl.key('agg');
    const port = await freePort();
    const file = cl.writeRun('run', {
      run: `matrix-${c.name}`,
      seed: SEED,
      task: taskSection(c),
      data: { ...(c.trainRows ? { trainRows: c.trainRows } : {}), testRows: TEST_ROWS, partition: c.partition, shares: 3 },
      codec: { codec: 'int8', errorFeedback: true },
      strategy,
      rounds,
      local: c.local,
      limits: { timeoutS: 20, pollS: 0.5, lingerS: 0.5 },
      network: { aggregator: `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}` },
    });
    const a = cl.start('agg', ['--config', file, '--role', 'aggregator', '--key', agg.path, '--data-dir', cl.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
    const ts = await Promise.all([0, 1, 2].map(async (i) => cl.start(`t${i}`, ['--config', file, '--role', 'trainer', '--key', (await cl.key(`t${i}`)).path, '--data-dir', cl.dataDir(`t${i}`), '--shard', String(i)])));
    assert.equal((await within(a.exited, 240_000, 'the aggregator')).code, 0, `${c.name}: the aggregator exits 0`);
    for (const t of ts) await within(t.exited, 60_000, t.name);
    const ev = readLog(a.log).filter((l) => l.event === 'version.evaluated');
    assert.equal(ev.length, rounds, `${c.name}: every version evaluated`);
    return ev.at(-1)!.loss as number;
  } finally {
    await cl.close();
  }
}

async function demoPeers(c: Case): Promise<number> {
  const cl = new Cluster(`matrix-${c.name}-demo`);
  try {
    const file = cl.writeRun('run', {
      run: `matrix-${c.name}-demo`,
      mode: 'decentralised',
      admission: 'open',
      seed: SEED,
      task: taskSection(c),
      data: { partition: c.partition, shares: 3, evalSamples: TEST_ROWS },
      sync: { algorithm: 'demo', steps: 20, batch: 16, lr: c.demoLr, minPeers: 3, timeoutS: 20, hashEvery: 10 },
      limits: { lingerS: 1, timeoutS: 10 },
    });
    const peers = await cl.startPeers(file, 3);
    const done = await Promise.all(peers.map((p, i) => waitForLog(p.log, (ls) => ls.find((l) => l.event === 'peer.done'), 240_000, `p${i} to finish`)));
    assert.equal(new Set(done.map((d) => d.hash)).size, 1, `${c.name}: the peers' parameters agree`);
    return readLog(peers[0].log).filter((l) => l.event === 'peer.evaluated').at(-1)!.loss as number;
  } finally {
    await cl.close();
  }
}

/** `fednode simulate` on a scenario of the same run (3 clients), FedAvg and FedBuff side by side; their final losses and the initial one it reports. */
async function simulateCli(c: Case): Promise<{ initial: number; fedavg: number; fedbuff: number }> {
  const cl = new Cluster(`matrix-${c.name}-sim`);
  try {
    const file = cl.writeRun('scenario', {
      run: `matrix-${c.name}-sim`,
      seed: SEED,
      task: taskSection(c),
      data: { ...(c.trainRows ? { trainRows: c.trainRows } : {}), testRows: TEST_ROWS, partition: c.partition, shares: 3 },
      codec: { codec: 'int8', errorFeedback: true },
      strategy: { kind: 'fedavg', cohort: 3 },
      rounds: 2,
      local: c.local,
      population: { perRound: 3, speed: { dist: 'constant', value: 100 }, uplinkMbps: { dist: 'constant', value: 10 }, downlinkMbps: { dist: 'constant', value: 10 }, latencyMs: { dist: 'constant', value: 10 } },
      sweep: [
        { label: 'fedavg', strategy: { kind: 'fedavg', cohort: 3 } },
        { label: 'fedbuff', strategy: { kind: 'fedbuff', k: 2 } },
      ],
    });
    const r = spawnSync(process.execPath, [CLI, 'simulate', file, '--json', '--out', cl.dataDir('out')], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `${c.name} simulate: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { runs: { label: string; rounds: number; final_loss: number; initial_loss: number }[] };
    const [avg, buff] = out.runs;
    assert.deepEqual([avg.label, avg.rounds, buff.label, buff.rounds], ['fedavg', 2, 'fedbuff', 2]);
    return { initial: avg.initial_loss, fedavg: avg.final_loss, fedbuff: buff.final_loss };
  } finally {
    await cl.close();
  }
}

function trainCli(c: Case): number {
  const budget = c.name === 'cnn' ? ['--steps', '8', '--batch', '32'] : ['--steps', '20', '--batch', '16'];
  // fednode train scores the task's whole held-out set; compare it with its own initial loss.
  const r = spawnSync(process.execPath, [CLI, 'train', '--model', c.name, '--dataset', c.dataset, ...budget, '--lr', String(c.local.lr), '--schedule', 'constant', '--threads', '1', '--eval-limit', String(TEST_ROWS), '--json', ...(c.trainRows ? ['--limit', String(c.trainRows)] : [])], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `${c.name}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { test_loss: number; initial_test_loss: number };
  assert.ok(out.test_loss < out.initial_test_loss, `${c.name} train: held-out loss ${out.initial_test_loss} -> ${out.test_loss}`);
  return out.test_loss;
}

for (const c of CASES) {
  test(`matrix: ${c.name} on ${c.dataset}: fednode train, daemons (FedAvg int8, FedBuff) and DeMo peers each end below the initial held-out loss`, LIMIT, async () => {
    const before = await initialLoss(c);
    const trained = trainCli(c);
    const sim = await simulateCli(c);
    // The simulator starts from the same seeded model on the same held-out examples.
    assert.ok(Math.abs(sim.initial - before) < 1e-4, `${c.name} simulate: initial loss ${sim.initial} against ${before}`);
    const fedavg = await daemons(c, { kind: 'fedavg', cohort: 3, minParticipants: 3, deadlineS: 120 }, 2);
    const fedbuff = await daemons(c, { kind: 'fedbuff', k: 2 }, 2);
    const demo = await demoPeers(c);
    process.stdout.write(
      `# matrix ${c.name}: initial ${before.toFixed(4)}; train ${trained.toFixed(4)}; simulate fedavg ${sim.fedavg.toFixed(4)}, fedbuff ${sim.fedbuff.toFixed(4)}; daemons fedavg ${fedavg.toFixed(4)}, fedbuff ${fedbuff.toFixed(4)}; demo ${demo.toFixed(4)}\n`,
    );
    for (const [what, loss] of [['simulate fedavg', sim.fedavg], ['simulate fedbuff', sim.fedbuff], ['fedavg daemons', fedavg], ['fedbuff daemons', fedbuff], ['demo peers', demo]] as const) {
      assert.ok(loss < before, `${c.name} ${what}: held-out loss ${before} -> ${loss}`);
    }
  });
}
