import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ParamSet, fullSlice, resolveSlice } from '@fednode/core';
import {
  AggregatorError,
  FedAvg,
  FedBuff,
  FedProx,
  createStrategy,
  localTrainingOf,
  restoreStrategy,
  strategyEntry,
  strategyKinds,
  type ClientUpdate,
  type Strategy,
} from '../src/index.js';
import { params, sliceUpdate, update } from './helpers.js';

const SPECS = [{ name: 'w', shape: [4, 4] }, { name: 'b', shape: [4] }];
const START = Array.from({ length: 20 }, (_, i) => Math.sin(i));
const HALF = { tensors: [{ name: 'w', axes: [{ kind: 'range' as const, start: 0, end: 2 }, { kind: 'all' as const }] }, { name: 'b', axes: [{ kind: 'all' as const }] }] };

/** Round r's updates: whole-model and half-width ones, different example counts. */
function roundUpdates(r: number): ClientUpdate[] {
  const d = (k: number, n: number) => Array.from({ length: n }, (_, i) => Math.cos(i * (k + 1) + r) * 0.05);
  return [
    update(SPECS, d(0, 20), { sender: 'a', round: r, baseVersion: r, examples: 10 }),
    sliceUpdate(SPECS, HALF, d(1, 12), { sender: 'b', round: r, baseVersion: r, examples: 30 }),
    update(SPECS, d(2, 20), { sender: 'c', round: r, baseVersion: r, examples: 7 }),
  ];
}

function drive(s: Strategy, rounds: number, order: (us: ClientUpdate[]) => ClientUpdate[] = (us) => us): Float32Array {
  for (let r = 0; r < rounds; r++) {
    s.open(0);
    for (const u of order(roundUpdates(r))) assert.ok(s.offer(u).accepted);
    s.aggregate();
  }
  return s.global.data;
}

test('the registry: built-in kinds, unknown kinds named with the known ones, local training per kind', () => {
  assert.deepEqual(strategyKinds(), ['fedavg', 'fedbuff', 'fedprox', 'oneshot']);
  assert.throws(() => strategyEntry('fedprx'), (e: unknown) => e instanceof AggregatorError && /unknown strategy "fedprx" \(known: fedavg, fedbuff, fedprox, oneshot\)/.test(e.message));
  assert.deepEqual(localTrainingOf({ kind: 'fedavg' }), {});
  assert.deepEqual(localTrainingOf({ kind: 'fedbuff', k: 2 }), {});
  assert.deepEqual(localTrainingOf({ kind: 'fedprox', mu: 0.01 }), { proximalMu: 0.01 });
  for (const kind of strategyKinds()) {
    const e = strategyEntry(kind);
    assert.equal(e.schema.properties.kind && (e.schema.properties.kind as { const: string }).const, kind);
    assert.ok(e.schema.required.includes('kind'));
  }
  assert.deepEqual(strategyEntry('fedprox').schema.required, ['kind', 'mu']);
});

test('section rules name only what is wrong, with the path given', () => {
  const fedavg = strategyEntry('fedavg');
  assert.deepEqual(fedavg.check({ kind: 'fedavg', cohort: 4, deadlineS: 30 }, { path: 'strategy' }), []);
  assert.deepEqual(fedavg.check({ kind: 'fedavg' }, { path: 'strategy' }), ['strategy: fedavg needs a cohort or a deadlineS to know when a round ends']);
  assert.deepEqual(fedavg.check({ kind: 'fedavg', backupWorkers: 2 }, { path: 'sweep[0].strategy', perEpoch: { count: 2, setting: 'clients.perRound' } }), [
    'sweep[0].strategy.backupWorkers 2 leaves nobody of clients.perRound 2',
  ]);
  assert.deepEqual(strategyEntry('fedprox').check({ kind: 'fedprox', mu: 0.1, cohort: 3, minParticipants: 4 }, { path: 'strategy' }), ['strategy.minParticipants 4 is more than strategy.cohort 3']);
  const fedbuff = strategyEntry('fedbuff');
  assert.deepEqual(fedbuff.check({ kind: 'fedbuff', k: 2, fedAsync: { alpha: 0.5 } }, { path: 'strategy' }), ['strategy.fedAsync applies each update on arrival: strategy.k must be 1']);
  assert.match(fedbuff.check({ kind: 'fedbuff', k: 50 }, { path: 'strategy', perEpoch: { count: 5, setting: 'clients.perRound' } })[0], /buffer would never fill/);
});

test('FedProx with mu = 0 aggregates bit for bit like FedAvg; it saves and restores as FedProx, keeping mu', () => {
  const server = { kind: 'fedadam', lr: 0.05 } as const;
  const avg = createStrategy(params(SPECS, START), { kind: 'fedavg', server, cohort: 3 });
  const prox = createStrategy(params(SPECS, START), { kind: 'fedprox', mu: 0, server, cohort: 3 });
  assert.ok(prox instanceof FedProx && avg instanceof FedAvg);
  assert.equal(prox.name, 'fedprox');
  assert.deepEqual(drive(prox, 4), drive(avg, 4));

  const mu = createStrategy(params(SPECS, START), { kind: 'fedprox', mu: 0.01, server, cohort: 3, deadlineS: 5 }, { runId: 'r' });
  drive(mu, 2);
  mu.open(0);
  assert.ok(mu.offer(roundUpdates(2)[0]).accepted, 'a half-full round is saved with what it holds');
  const back = restoreStrategy(mu.saveState());
  assert.ok(back instanceof FedProx);
  assert.equal(back.mu, 0.01);
  assert.equal(back.received, 1);
  assert.deepEqual(strategyEntry(back.name).localTraining({ kind: back.name, mu: back.mu }), { proximalMu: 0.01 });
  assert.deepEqual(back.saveState(), mu.saveState(), 'restoring changes nothing');
  for (const s of [mu, back]) for (const u of roundUpdates(2).slice(1)) assert.ok(s.offer(u).accepted);
  assert.deepEqual(back.aggregate().params.data, mu.aggregate().params.data);
  assert.throws(() => createStrategy(params(SPECS, START), { kind: 'fedprox', mu: -1, cohort: 3 }), /mu is -1/);
  assert.throws(() => restoreStrategy(mu.saveState(), { kind: 'fedavg', cohort: 3 }), (e: unknown) => e instanceof AggregatorError && e.code === 'AGG_STATE');
});

test('FedAvg folds a round in canonical order: the same updates in any arrival order give the same model, bit for bit', () => {
  const cfg = { kind: 'fedavg', cohort: 3, server: { kind: 'fedyogi', lr: 0.1 } } as const;
  const forward = drive(createStrategy(params(SPECS, START), cfg), 3);
  const reversed = drive(createStrategy(params(SPECS, START), cfg), 3, (us) => [...us].reverse());
  const rotated = drive(createStrategy(params(SPECS, START), cfg), 3, (us) => [...us.slice(1), us[0]]);
  assert.deepEqual(reversed, forward);
  assert.deepEqual(rotated, forward);
});

test('precheck and check refuse without changing anything; offer takes what check passes', () => {
  const f = createStrategy(params(SPECS, START), { kind: 'fedavg', cohort: 2, normBound: 1 });
  const [a, b, c] = roundUpdates(0);
  assert.equal(f.precheck({ sender: 'a', round: 1, baseVersion: 0, examples: 1 })?.code, 'WRONG_ROUND');
  assert.equal(f.precheck({ sender: 'a', round: 0, baseVersion: 0, examples: 0 })?.code, 'NO_EXAMPLES');
  const big: ClientUpdate = { ...a, delta: params(SPECS, new Array(20).fill(1)) };
  assert.equal(f.precheck(big), null, 'the header cannot tell the norm');
  assert.equal(f.check(big)?.code, 'NORM_BOUND');
  assert.equal(f.received, 0);
  assert.equal(f.check(a), null);
  assert.ok(f.offer(a).accepted);
  assert.equal(f.precheck(a)?.code, 'DUPLICATE_SENDER');
  assert.ok(f.offer(b).accepted);
  assert.equal(f.precheck(c)?.code, 'ROUND_CLOSED');
  assert.equal(f.expected, 2);
  assert.equal(f.epoch, 0);
  f.aggregate();
  assert.equal(f.epoch, 1);
  assert.equal(f.staleness(0), undefined);
});

test('FedBuff: epoch is the version being made; a partial buffer flushes at its deadline; an empty one waits on', () => {
  const b = createStrategy(params(SPECS, START), { kind: 'fedbuff', k: 3, flushS: 1 });
  assert.ok(b instanceof FedBuff);
  assert.equal(b.pacing, 'continuous');
  b.open(0);
  assert.equal(b.deadlineMs, 1000);
  assert.equal(b.abandon(1000), false, 'nothing to flush: the same epoch, a new wait');
  assert.equal(b.deadlineMs, 2000);
  assert.ok(b.offer(roundUpdates(0)[0]).accepted);
  assert.equal(b.ready(1999), false);
  assert.equal(b.ready(2000), true);
  assert.equal(b.aggregate(2000).participants.length, 1);
  assert.equal(b.epoch, 1);
  assert.equal(b.staleness(0), 1);
  assert.equal(b.precheck({ sender: 'x', round: 0, baseVersion: 2, examples: 1 })?.code, 'FUTURE_VERSION');
});

test('states saved before the registry (FedAvg and FedBuff mid-epoch) restore and go on as they would have', () => {
  const fx = JSON.parse(readFileSync(new URL('./fixtures/pre-registry-states.json', import.meta.url), 'utf8')) as Record<string, string | number[]>;
  const specs = [{ name: 'w', shape: [2, 3] }, { name: 'b', shape: [3] }];
  const resolved = resolveSlice(fullSlice(specs), specs);
  const up = (sender: string, k: number, round: number, baseVersion: number): ClientUpdate => {
    const d = ParamSet.zeros(resolved.localSpecs);
    d.data.set(Array.from({ length: 9 }, (_, i) => Math.sin(i + k) * 0.1));
    return { sender, round, baseVersion, examples: 3 + k, resolved, delta: d };
  };
  const a = restoreStrategy(Buffer.from(fx.fedavg as string, 'base64'));
  assert.ok(a instanceof FedAvg);
  assert.equal(a.received, 1);
  a.offer(up('b', 6, 1, 1));
  a.offer(up('c', 7, 1, 1));
  // The update taken before saving is already in the running sum; the two after it are now
  // folded in canonical order rather than arrival order, so floats may differ in the last bits.
  const next = Array.from(a.aggregate().params.data);
  (fx.fedavgNext as number[]).forEach((v, i) => assert.ok(Math.abs(next[i] - v) < 1e-6, `element ${i}: ${next[i]} vs ${v}`));
  const b = restoreStrategy(Buffer.from(fx.fedbuff as string, 'base64'));
  assert.ok(b instanceof FedBuff);
  b.offer(up('b', 8, 1, 1));
  b.offer(up('c', 9, 0, 0));
  assert.deepEqual(Array.from(b.aggregate().params.data), fx.fedbuffNext, 'FedBuff applies on arrival as before: bit for bit');
});
