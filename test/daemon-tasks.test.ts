/**
 * Every task on real daemons: the character transformers on SOTU, sliced. A mixture of experts
 * whose trainers each hold 2 of the 4 experts (DiPaCo-style paths, FedAvg per expert over its
 * holders), and a transformer supernet trained at widths 1, 0.5 and 0.25. Tiny models and
 * budgets: the point is that the runtime carries them, and that held-out loss falls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, freePort, readLog, within, type LogLine } from './cluster.js';

const LIMIT = { timeout: 300_000 };
const EXIT_MS = 240_000;
const TINY = { seqLen: 32, dModel: 32, heads: 2, headDim: 16, ffDim: 64, layers: 1 };

function events(lines: LogLine[], event: string): LogLine[] {
  return lines.filter((l) => l.event === event);
}

async function runCluster(name: string, run: Record<string, unknown>, trainers: { capability: string }[]): Promise<{ agg: LogLine[]; trainers: LogLine[][] }> {
  const c = new Cluster(name);
  try {
    const agg = await c.key('agg');
    const port = await freePort();
    const file = c.writeRun(name, { ...run, network: { aggregator: `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}` } });
    const a = c.start('agg', ['--config', file, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
    const ts = await Promise.all(
      trainers.map(async (t, i) => {
        const k = await c.key(`t${i}`);
        return c.start(`t${i}`, ['--config', file, '--role', 'trainer', '--key', k.path, '--data-dir', c.dataDir(`t${i}`), '--shard', String(i), '--capability', t.capability]);
      }),
    );
    assert.equal((await within(a.exited, EXIT_MS, 'the aggregator to finish')).code, 0, 'the aggregator exits 0');
    for (const p of ts) assert.equal((await within(p.exited, EXIT_MS, p.name)).code, 0, `${p.name} exits 0`);
    return { agg: readLog(a.log), trainers: ts.map((p) => readLog(p.log)) };
  } finally {
    await c.close();
  }
}

test('MoE expert slices on daemons: 4 trainers on disjoint presidents each hold 2 of 4 experts; every version averages each expert over its holders and held-out loss falls', LIMIT, async () => {
  const rounds = 3;
  const { agg, trainers } = await runCluster(
    'e2e-moe',
    {
      run: 'e2e-moe',
      seed: 1,
      task: { name: 'moe-transformer', dataset: 'sotu', model: { ...TINY, experts: 4, topK: 2, expertFfDim: 32 } },
      data: { testRows: 512, partition: { kind: 'natural' }, shares: 4 },
      slices: { capabilities: { e01: { experts: [0, 1] }, e12: { experts: [1, 2] }, e23: { experts: [2, 3] }, e03: { experts: [0, 3] } } },
      codec: { codec: 'int8', errorFeedback: true },
      strategy: { kind: 'fedavg', cohort: 4, deadlineS: 120, minParticipants: 4 },
      rounds,
      local: { steps: 15, batch: 16, lr: 0.01 },
      limits: { timeoutS: 20, pollS: 0.5, lingerS: 0.5 },
    },
    ['e01', 'e12', 'e23', 'e03'].map((capability) => ({ capability })),
  );
  const closed = events(agg, 'round.closed');
  assert.deepEqual(closed.map((l) => l.version), [1, 2, 3]);
  for (const l of closed) assert.equal((l.peers as string[]).length, 4);
  const slices = new Set(events(agg, 'update.accepted').map((l) => l.slice));
  assert.deepEqual([...slices].sort(), ['experts 0,1', 'experts 0,3', 'experts 1,2', 'experts 2,3']);
  // Shares are disjoint presidents.
  const shares = trainers.map((t) => events(t, 'trainer.ready')[0].share as string);
  assert.equal(new Set(shares).size, 4, shares.join(' | '));
  const evaluated = events(agg, 'version.evaluated').map((l) => l.loss as number);
  const initial = events(agg, 'version.evaluated');
  process.stdout.write(`# moe daemons: held-out loss by version ${evaluated.map((x) => x.toFixed(4)).join(', ')}\n`);
  assert.equal(evaluated.length, rounds);
  assert.ok(evaluated[rounds - 1] < evaluated[0], `held-out loss falls: ${evaluated.join(', ')}`);
  assert.ok(initial.every((l) => (l.rows as number) === 512));
});

test('transformer supernet slices on daemons: trainers at widths 1, 0.5 and 0.25; the whole model and each width are evaluated every version and improve', LIMIT, async () => {
  const rounds = 4;
  const { agg } = await runCluster(
    'e2e-tsn',
    {
      run: 'e2e-tsn',
      seed: 1,
      task: { name: 'transformer', dataset: 'sotu', model: TINY },
      data: { testRows: 512, partition: { kind: 'natural' }, shares: 3 },
      slices: { capabilities: { full: { width: 1 }, half: { width: 0.5 }, quarter: { width: 0.25 } } },
      codec: { codec: 'int8', errorFeedback: true },
      strategy: { kind: 'fedavg', cohort: 3, deadlineS: 120, minParticipants: 3, weighting: 'uniform' },
      rounds,
      local: { steps: 40, batch: 16, lr: 0.01 },
      limits: { timeoutS: 20, pollS: 0.5, lingerS: 0.5 },
    },
    ['full', 'half', 'quarter'].map((capability) => ({ capability })),
  );
  const ev = events(agg, 'version.evaluated');
  assert.equal(ev.length, rounds);
  const by = ev.map((l) => l.loss_by_slice as Record<string, number>);
  process.stdout.write(`# transformer supernet daemons, held-out loss: whole ${ev.map((l) => (l.loss as number).toFixed(4)).join(', ')}; width 0.5 ${by.map((b) => b['width 0.5'].toFixed(4)).join(', ')}; width 0.25 ${by.map((b) => b['width 0.25'].toFixed(4)).join(', ')}\n`);
  for (const b of by) assert.deepEqual(Object.keys(b).sort(), ['width 0.25', 'width 0.5']);
  assert.ok((ev[rounds - 1].loss as number) < (ev[0].loss as number), 'whole-model held-out loss falls');
  for (const w of ['width 0.5', 'width 0.25']) assert.ok(by[rounds - 1][w] < by[0][w], `${w}: held-out loss falls over the run: ${by.map((b) => b[w]).join(', ')}`);
  for (const l of ev) assert.deepEqual(Object.keys(l.accuracy_by_slice as object).sort(), ['width 0.25', 'width 0.5']);
});

test('FedProx partial work on daemons: a trainer whose budget outlasts the deadline sends the steps it trained in time, and the round takes it', LIMIT, async () => {
  const deadlineS = 8;
  const { agg, trainers } = await runCluster(
    'e2e-partial',
    {
      run: 'e2e-partial',
      seed: 1,
      task: { name: 'mlp', dataset: 'mnist' },
      data: { trainRows: 2000, testRows: 1000, partition: { kind: 'iid' }, shares: 2 },
      slices: { capabilities: { whole: { width: 1 } } },
      codec: { codec: 'int8', errorFeedback: true },
      // A million steps per round: no trainer finishes, every one stops at the deadline.
      strategy: { kind: 'fedprox', mu: 0.01, partialWork: true, cohort: 2, minParticipants: 2, deadlineS },
      rounds: 1,
      local: { steps: 1_000_000, batch: 32, lr: 0.05 },
      limits: { timeoutS: 20, pollS: 0.5, lingerS: 0.5 },
    },
    [{ capability: 'whole' }, { capability: 'whole' }],
  );
  const closed = events(agg, 'round.closed');
  assert.equal(closed.length, 1);
  assert.equal((closed[0].peers as string[]).length, 2, 'both partial updates are in the version');
  for (const t of trainers) {
    const p = events(t, 'update.partial');
    assert.equal(p.length, 1, 'the trainer says it stopped early');
    assert.ok((p[0].steps as number) > 0 && (p[0].steps as number) < 1_000_000 && (p[0].time_limit_s as number) < deadlineS, JSON.stringify(p[0]));
  }
  const ev = events(agg, 'version.evaluated');
  assert.ok((ev[0].accuracy as number) > 0.5, `accuracy ${ev[0].accuracy}`);
});
