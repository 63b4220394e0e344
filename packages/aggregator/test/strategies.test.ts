import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet } from '@fednode/core';
import { FedAvg, FedBuff, canonicalOrder, stalenessWeight, restoreStrategy, strategyEntry, strategyWarnings, type FedAvgConfig, type ServerOptimizerConfig } from '../src/index.js';
import { close, params, sliceUpdate, update } from './helpers.js';

const V2 = [{ name: 'x', shape: [2] }];
const V1 = [{ name: 'x', shape: [1] }];

function refusedWith(r: { accepted: boolean; refusal?: { code: string } }, code: string): void {
  assert.equal(r.accepted, false, `expected refusal ${code}`);
  assert.equal((r as { refusal: { code: string } }).refusal.code, code);
}

test('FedAvg: example-weighted mean (spec 1: [1,2] n=1, [3,4] n=3 -> [2.5, 3.5]) and a server learning rate', () => {
  const f = new FedAvg(params(V2, [0, 0]));
  assert.ok(f.offer(update(V2, [1, 2], { sender: 'a', examples: 1 })).accepted);
  assert.ok(f.offer(update(V2, [3, 4], { sender: 'b', examples: 3 })).accepted);
  const r = f.aggregate();
  close(r.params.data, [2.5, 3.5]);
  assert.equal(r.version, 1);
  assert.deepEqual(r.participants, ['a', 'b']);
  const g = new FedAvg(params(V2, [0, 0]), { server: { kind: 'sgd', lr: 0.5 } });
  g.offer(update(V2, [1, 2], { sender: 'a', examples: 1 }));
  g.offer(update(V2, [3, 4], { sender: 'b', examples: 3 }));
  close(g.aggregate().params.data, [1.25, 1.75]);
});

function rounds(server: ServerOptimizerConfig, start: number[], deltas: number[][], specs = V1): number[][] {
  const f = new FedAvg(params(specs, start), { server });
  return deltas.map((d, r) => {
    f.offer(update(specs, d, { sender: 'a', round: r, baseVersion: r }));
    return Array.from(f.aggregate().params.data);
  });
}

test('FedAvgM (Flower): lr 1, momentum 0.9, client average x - 0.1 each round -> 0.9, then 0.71; momentum 0 equals FedAvg with a server lr', () => {
  const out = rounds({ kind: 'fedavgm', lr: 1, momentum: 0.9 }, [1], [[-0.1], [-0.1]]);
  close(out[0], [0.9]);
  close(out[1], [0.71]);
  assert.deepEqual(rounds({ kind: 'fedavgm', lr: 0.7, momentum: 0 }, [1], [[-0.3], [0.2]]), rounds({ kind: 'sgd', lr: 0.7 }, [1], [[-0.3], [0.2]]));
});

test('FedAdam, FedYogi, FedAdagrad first steps (spec 1)', () => {
  const adam = rounds({ kind: 'fedadam', lr: 0.1, tau: 1e-3 }, [0, 0], [[1, -2]], V2)[0];
  close(adam, [0.0990099, -0.0995025]);
  assert.deepEqual(rounds({ kind: 'fedyogi', lr: 0.1, tau: 1e-3 }, [0, 0], [[1, -2]], V2)[0], adam, 'Yogi step 1 from v = 0 equals Adam step 1');
  close(rounds({ kind: 'fedadagrad', lr: 0.1, tau: 1e-3 }, [0, 0], [[1, -2]], V2)[0], [0.00999, -0.009995]);
});

test("DiLoCo's outer Nesterov step (spec 3): theta 1, pseudo-gradient 0.1 twice -> 0.867, 0.6773", () => {
  const out = rounds({ kind: 'diloco' }, [1], [[-0.1], [-0.1]]);
  close(out[0], [0.867]);
  close(out[1], [0.6773]);
});

test('DiLoCo with one worker, one inner SGD step, outer lr 1 and momentum 0 equals plain SGD', () => {
  // f(x) = 0.5·||x - c||², gradient x - c; inner lr 0.1.
  const c = [3, -1];
  let sgd = [0.5, 0.25];
  const f = new FedAvg(params(V2, sgd), { server: { kind: 'diloco', lr: 1, momentum: 0 } });
  for (let r = 0; r < 5; r++) {
    const x = Array.from(f.global.data);
    const local = x.map((v, i) => Math.fround(v - 0.1 * (v - c[i])));
    f.offer(update(V2, local.map((v, i) => v - x[i]), { sender: 'w', round: r, baseVersion: r }));
    f.aggregate();
    sgd = sgd.map((v, i) => v - 0.1 * (v - c[i]));
  }
  close(f.global.data, sgd, 1e-6);
});

test('slice-aware averaging (spec 6): a half-width client and a full client; uncovered elements untouched even with FedAdam', () => {
  const S = [{ name: 'w', shape: [4, 4] }];
  const A = Array.from({ length: 16 }, (_, i) => i);
  const f = new FedAvg(params(S, A), { weighting: 'uniform' });
  f.offer(update(S, new Array(16).fill(0), { sender: 'full' }));
  const half = { tensors: [{ name: 'w', axes: [{ kind: 'range' as const, start: 0, end: 2 }, { kind: 'range' as const, start: 0, end: 2 }] }] };
  f.offer(sliceUpdate(S, half, [0, 1, 4, 5].map((v) => 100 - v), { sender: 'half' }));
  const out = Array.from(f.aggregate().params.data);
  close(out, [50, 50.5, 2, 3, 52, 52.5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  const g = new FedAvg(params(S, A), { server: { kind: 'fedadam', lr: 0.1 } });
  for (let r = 0; r < 3; r++) {
    g.offer(sliceUpdate(S, half, [1, 1, 1, 1], { sender: 'half', round: r, baseVersion: r }));
    const res = g.aggregate();
    assert.equal(res.metrics.covered_fraction, 4 / 16);
  }
  const after = Array.from(g.global.data);
  for (const i of [2, 3, 6, 7, 8, 15]) assert.equal(after[i], A[i], `element ${i} untouched`);
  for (const i of [0, 1, 4, 5]) assert.ok(after[i] > A[i]);
});

test('FedBuff (spec 2): K = 2 with s = (1+tau)^(-1/2); staleness weight vectors', () => {
  const f = new FedBuff(params(V2, [0, 0]), { k: 2, staleness: { kind: 'polynomial', a: 0.5 } }, { version: 3 });
  assert.ok(f.offer(update(V2, [1, 0], { sender: 'a', baseVersion: 3 })).accepted);
  assert.equal(f.ready(), false);
  assert.ok(f.offer(update(V2, [0, 1], { sender: 'b', baseVersion: 0 })).accepted);
  const r = f.aggregate();
  close(r.params.data, [0.5, 0.25]);
  assert.equal(r.version, 4);
  assert.equal(r.metrics.mean_staleness, 1.5);
  const norm = new FedBuff(params(V2, [0, 0]), { k: 1, staleness: { kind: 'polynomial', a: 0.5 }, stalenessNormalizeAt: 1 });
  close([norm.weightOf(0, 1)], [Math.SQRT2]);
  close([stalenessWeight({ kind: 'polynomial', a: 0.5 }, 3)], [0.5]);
  close([stalenessWeight({ kind: 'hinge', a: 10, b: 4 }, 6)], [1 / 21]);
});

test('FedBuff with K equal to the cohort and no staleness equals FedAvg (uniform, and example-weighted)', () => {
  const specs = [{ name: 'w', shape: [3, 5] }, { name: 'b', shape: [5] }];
  const start = Array.from({ length: 20 }, (_, i) => Math.sin(i));
  const deltas = [0, 1, 2, 3].map((k) => Array.from({ length: 20 }, (_, i) => Math.cos(i * (k + 1)) * 0.1));
  const ex = [10, 30, 5, 55];
  for (const [avgCfg, buffCfg] of [
    [{ weighting: 'uniform' }, { exampleWeight: 'one', mean: 'count' }],
    [{ weighting: 'examples' }, { exampleWeight: 'n', mean: 'weights' }],
  ] as const) {
    const a = new FedAvg(params(specs, start), { ...avgCfg, server: { kind: 'fedadam' } } as FedAvgConfig);
    const b = new FedBuff(params(specs, start), { k: 4, staleness: { kind: 'constant' }, ...buffCfg, server: { kind: 'fedadam' } });
    const us = deltas.map((d, k) => update(specs, d, { sender: `c${k}`, examples: ex[k] }));
    for (const u of us) a.offer(u);
    // FedAvg folds a round in canonical order whatever the arrivals; FedBuff applies on arrival.
    for (const u of canonicalOrder(us)) b.offer(u);
    assert.deepEqual(b.aggregate().params.data, a.aggregate().params.data);
  }
});

test('FedAsync: each update applied on arrival with alpha * s(staleness)', () => {
  const f = new FedBuff(params(V1, [1]), { k: 1, fedAsync: { alpha: 0.5 }, staleness: { kind: 'hinge', a: 10, b: 4 } }, { version: 10 });
  f.offer(update(V1, [2], { sender: 'a', baseVersion: 10 }));
  close(f.aggregate().params.data, [2]);
  f.offer(update(V1, [21], { sender: 'b', baseVersion: 5 })); // staleness 6 -> s = 1/21
  close(f.aggregate().params.data, [2.5]);
});

test('robust aggregation inside FedAvg (spec 9 vectors) and DP-FedAvg sigma', () => {
  const X = [[0, 0], [0.1, 0], [0, 0.1], [0.1, 0.1], [5, 5]];
  const us = X.map((x, i) => update(V2, x, { sender: `p${i}` }));
  const run = (cfg: FedAvgConfig) => {
    const f = new FedAvg(params(V2, [0, 0]), { weighting: 'uniform', ...cfg });
    for (const u of us) f.offer(u);
    return Array.from(f.aggregate().params.data);
  };
  // The four small updates tie on Krum's score; a tie goes to the first in the order the round
  // is folded in, which is canonical (content digests), not arrival.
  const tied = canonicalOrder(us).filter((u) => u.delta.data[0] < 1).map((u) => Array.from(u.delta.data));
  close(run({ robust: { kind: 'krum', f: 1 } }), tied[0]);
  close(run({ robust: { kind: 'multi-krum', f: 1, m: 3 } }), [0, 1].map((i) => (tied[0][i] + tied[1][i] + tied[2][i]) / 3));
  close(run({ robust: { kind: 'median' } }), [0.1, 0.1]);
  close(run({ robust: { kind: 'trimmed-mean', beta: 0.2 } }), [0.0666667, 0.0666667]);
  const dp = new FedAvg(params(V2, [0, 0]), { dp: { noiseMultiplier: 1, clipNorm: 0.5, testSeed: 7 } });
  for (let i = 0; i < 10; i++) dp.offer(update(V2, [3, 4], { sender: `p${i}` }));
  const r = dp.aggregate();
  close([r.metrics.dp_sigma], [0.05]);
  assert.equal(r.metrics.clipped, 10);
  // Every update clipped to [0.3, 0.4]; the mean plus noise of sigma 0.05 stays near it.
  assert.ok(Math.abs(r.params.data[0] - 0.3) < 0.25 && Math.abs(r.params.data[1] - 0.4) < 0.25);
  const again = new FedAvg(params(V2, [0, 0]), { dp: { noiseMultiplier: 1, clipNorm: 0.5, testSeed: 7 } });
  for (let i = 0; i < 10; i++) again.offer(update(V2, [3, 4], { sender: `p${i}` }));
  assert.deepEqual(again.aggregate().params.data, r.params.data, 'seeded noise (tests only)');
});

test('DP noise comes from the cryptographic source unless a test seed is named, which the registry warns about', () => {
  const N = 200_000;
  const big = (v: number) => params([{ name: 'w', shape: [N] }], new Array<number>(N).fill(v));
  const run = () => {
    const f = new FedAvg(big(0), { dp: { noiseMultiplier: 1, clipNorm: 1 } });
    for (let i = 0; i < 4; i++) f.offer(update([{ name: 'w', shape: [N] }], new Array<number>(N).fill(0), { sender: `p${i}` }));
    return f.aggregate();
  };
  const a = run();
  const b = run();
  // sigma = z·C/m = 0.25; zero updates, so the model is the noise itself.
  const stats = (d: Float32Array) => {
    let s = 0;
    let q = 0;
    for (const x of d) {
      s += x;
      q += x * x;
    }
    return { mean: s / d.length, sd: Math.sqrt(q / d.length - (s / d.length) ** 2) };
  };
  const sa = stats(a.params.data);
  assert.ok(Math.abs(sa.mean) < 0.005 && Math.abs(sa.sd - 0.25) < 0.005, `noise mean ${sa.mean}, sd ${sa.sd} (want 0, 0.25)`);
  assert.notDeepEqual(Array.from(a.params.data.subarray(0, 8)), Array.from(b.params.data.subarray(0, 8)), 'nobody can predict it: two runs differ');
  assert.deepEqual(strategyWarnings({ kind: 'fedavg', dp: { noiseMultiplier: 1, clipNorm: 1 } }), []);
  assert.match(strategyWarnings({ kind: 'fedprox', mu: 0.1, dp: { noiseMultiplier: 1, clipNorm: 1, testSeed: 3 } })[0], /NO differential privacy/);
  assert.deepEqual(strategyEntry('fedavg').check({ kind: 'fedavg', dp: { noiseMultiplier: 1, clipNorm: 1 } }, { path: 'strategy' }).filter((p) => /seed/.test(p)), [], 'no seed is needed');
});

test('refusals: wrong round, base version, duplicate sender, norm bound, staleness, slices under robust rules', () => {
  const f = new FedAvg(params(V2, [0, 0]), { normBound: 1, runId: 'run' });
  refusedWith(f.offer(update(V2, [0.1, 0], { sender: 'a', round: 1 })), 'WRONG_ROUND');
  refusedWith(f.offer(update(V2, [0.1, 0], { sender: 'a', baseVersion: 2 })), 'WRONG_BASE_VERSION');
  refusedWith(f.offer(update(V2, [3, 4], { sender: 'a' })), 'NORM_BOUND');
  refusedWith(f.offer(update(V2, [0.1, 0], { sender: 'a', runId: 'other' })), 'WRONG_RUN');
  refusedWith(f.offer(update(V2, [0.1, 0], { sender: 'a', examples: 0 })), 'NO_EXAMPLES');
  assert.ok(f.offer(update(V2, [0.1, 0], { sender: 'a' })).accepted);
  refusedWith(f.offer(update(V2, [0.1, 0], { sender: 'a' })), 'DUPLICATE_SENDER');
  const b = new FedBuff(params(V2, [0, 0]), { k: 2, maxStaleness: 2 }, { version: 5 });
  refusedWith(b.offer(update(V2, [0, 0], { sender: 'a', baseVersion: 2 })), 'TOO_STALE');
  refusedWith(b.offer(update(V2, [0, 0], { sender: 'a', baseVersion: 6 })), 'FUTURE_VERSION');
  const S = [{ name: 'w', shape: [2, 2] }];
  const r = new FedAvg(params(S, [0, 0, 0, 0]), { robust: { kind: 'median' } });
  const slice = { tensors: [{ name: 'w', axes: [{ kind: 'range' as const, start: 0, end: 1 }, { kind: 'all' as const }] }] };
  refusedWith(r.offer(sliceUpdate(S, slice, [1, 1], { sender: 'a' })), 'NEEDS_FULL_MODEL');
  assert.deepEqual(strategyEntry('fedavg').check({ kind: 'fedavg', backupWorkers: 1, deadlineS: 5 }, { path: 'strategy' }), ['strategy.backupWorkers needs strategy.cohort']);
  assert.throws(() => new FedAvg(params(V2, [0, 0]), { cohort: 2, backupWorkers: 2 }), /backupWorkers 2 leaves no one/);
  assert.throws(() => new FedBuff(params(V2, [0, 0]), { k: 0 }), (e: Error & { code?: string }) => e.code === 'AGG_CONFIG');
});

test('deadline and backup workers: close at cohort - b, or at the deadline with the minimum', () => {
  const f = new FedAvg(params(V1, [0]), { cohort: 5, backupWorkers: 1, minParticipants: 2 });
  for (let i = 0; i < 3; i++) f.offer(update(V1, [1], { sender: `p${i}` }));
  assert.equal(f.ready(), false, '3 of the fastest 4');
  f.offer(update(V1, [1], { sender: 'p3' }));
  assert.equal(f.ready(), true);
  refusedWith(f.offer(update(V1, [1], { sender: 'p4' })), 'ROUND_CLOSED');
  f.aggregate();
  const g = restoreStrategy(f.saveState(), { kind: 'fedavg', cohort: 5, backupWorkers: 1, minParticipants: 2, deadlineS: 1 }) as FedAvg;
  g.open(0);
  assert.equal(g.deadlineMs, 1000, 'the deadline policy comes from the section given at restore');
  f.open(0);
  assert.equal(f.deadlineMs, null, 'the saved section had no deadline');
  for (const s of [f, g]) s.offer(update(V1, [1], { sender: 'p0', round: 1, baseVersion: 1 }));
  assert.equal(g.ready(2000), false, 'below the minimum even after the deadline');
  assert.throws(() => g.aggregate(2000), (e: Error & { code?: string }) => e.code === 'AGG_NOT_READY');
  for (const s of [f, g]) s.offer(update(V1, [1], { sender: 'p1', round: 1, baseVersion: 1 }));
  assert.equal(g.ready(999), false);
  assert.equal(g.ready(1000), true);
  assert.equal(f.ready(2000), false, 'a cohort to wait for, and no deadline');
  assert.equal(f.ready(Infinity), true, 'nothing more will come: close with what there is');
  assert.deepEqual(g.aggregate(1000).params.data, f.aggregate(Infinity).params.data);
  assert.equal(f.abandon(), true);
  assert.equal(f.round, 3);
  assert.equal(f.version, 2);
});

test('saving state mid-buffer and restoring into a fresh instance gives the same next model, bit for bit', () => {
  const specs = [{ name: 'w', shape: [8, 16] }, { name: 'b', shape: [16] }];
  const start = Array.from({ length: 144 }, (_, i) => Math.sin(i * 0.3));
  const d = (k: number) => Array.from({ length: 144 }, (_, i) => Math.cos(i * 0.7 + k) * 0.01);
  const half = { tensors: [{ name: 'w', axes: [{ kind: 'range' as const, start: 0, end: 4 }, { kind: 'all' as const }] }, { name: 'b', axes: [{ kind: 'all' as const }] }] };
  const local = (k: number) => d(k).slice(0, 64 + 16);
  // FedBuff with FedAdam: two versions, then half a buffer, then save.
  const a = new FedBuff(params(specs, start), { k: 4, server: { kind: 'fedadam' }, exampleWeight: 'sqrt' });
  let v = 0;
  for (let k = 0; k < 10; k++) {
    const u = k % 2 ? update(specs, d(k), { sender: `c${k}`, baseVersion: Math.max(0, v - 1), examples: 10 + k }) : sliceUpdate(specs, half, local(k), { sender: `c${k}`, baseVersion: v, examples: 5 });
    assert.ok(a.offer(u).accepted);
    if (a.ready()) v = a.aggregate().version;
  }
  const b = restoreStrategy(a.saveState()) as FedBuff;
  assert.equal(b.buffered, 2);
  for (const s of [a, b]) {
    s.offer(update(specs, d(20), { sender: 'x', baseVersion: v, examples: 7 }));
    s.offer(sliceUpdate(specs, half, local(21), { sender: 'y', baseVersion: v, examples: 9 }));
  }
  assert.deepEqual(b.aggregate().params.data, a.aggregate().params.data);
  // FedAvg with DiLoCo momentum and a robust stash, saved mid-round.
  const cfgs: FedAvgConfig[] = [{ server: { kind: 'diloco' } }, { robust: { kind: 'median' }, server: { kind: 'fedavgm', momentum: 0.5 } }];
  for (const cfg of cfgs) {
    const f = new FedAvg(params(specs, start), cfg);
    f.offer(update(specs, d(1), { sender: 'p', examples: 3 }));
    f.aggregate();
    f.offer(update(specs, d(2), { sender: 'p', round: 1, baseVersion: 1, examples: 3 }));
    const g = restoreStrategy(f.saveState()) as FedAvg;
    for (const s of [f, g]) s.offer(update(specs, d(3), { sender: 'q', round: 1, baseVersion: 1, examples: 4 }));
    assert.deepEqual(g.aggregate().params.data, f.aggregate().params.data);
    assert.ok(g.global instanceof ParamSet);
  }
  assert.throws(() => restoreStrategy(new Uint8Array([1, 2, 3])), (e: Error & { code?: string }) => e.code === 'AGG_STATE');
});

test('FedAvg holds an int8 update as its wire bytes until the round closes, with the same result bit for bit', async () => {
  const { HeldUpdates } = await import('../src/strategies/held.js');
  const { clientUpdateFrom } = await import('../src/index.js');
  const { encodeUpdate, fullSlice } = await import('@fednode/core');
  const specs = [{ name: 'w', shape: [64, 32] }, { name: 'b', shape: [32] }];
  const wire = (sender: string, k: number) => {
    const d = ParamSet.zeros(specs);
    for (let i = 0; i < d.size; i++) d.data[i] = Math.sin(i * 0.37 + k) * 0.01;
    return clientUpdateFrom(encodeUpdate({ runId: 'r', sender, baseVersion: 0, round: 0, sequence: 0, examples: 10 + k }, fullSlice(specs), d, { codec: 'int8' }), specs, sender);
  };
  const us = [0, 1, 2].map((k) => wire(`p${k}`, k));
  const floats = us[0].delta.data.byteLength;
  const held = new HeldUpdates();
  for (const u of us) held.add(u, 1);
  assert.ok(held.bytes * 3.5 < 3 * floats, `held ${held.bytes} B, decoded ${3 * floats} B`);
  // Decoded again, in canonical order, each delta is the one that came in.
  for (const { update } of held.inCanonicalOrder()) assert.deepEqual(update.delta.data, us.find((u) => u.sender === update.sender)!.delta.data);
  // Without the wire tensors (or with a clipped delta) the decoded delta is what is held.
  const plain = new HeldUpdates();
  for (const u of us) plain.add({ ...u, encoded: undefined }, 1);
  assert.equal(plain.bytes, 3 * floats);
  const run = (strip: boolean, clipNorm?: number) => {
    const f = new FedAvg(ParamSet.zeros(specs), clipNorm === undefined ? {} : { clipNorm });
    for (const u of us) assert.ok(f.offer(strip ? { ...u, encoded: undefined } : u).accepted);
    return f.aggregate().params.data;
  };
  assert.deepEqual(run(false), run(true));
  assert.deepEqual(run(false, 0.01), run(true, 0.01));
  assert.notDeepEqual(run(false, 0.01), run(false));
});
