import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet, tasks } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import { AggregatorError, OneShot, createStrategy, localTrainingOf, mergeAverage, restoreStrategy, strategyEntry, ties, weightMatching, cnnSpec, permuteBySpec, type ClientUpdate, type ModelAssembler } from '../src/index.js';
import { params, sliceUpdate, update } from './helpers.js';

const SPECS = [{ name: 'w', shape: [4, 4] }, { name: 'b', shape: [4] }];
const BASE = params(SPECS, Array.from({ length: 20 }, (_, i) => Math.sin(i)));
const d = (k: number) => Array.from({ length: 20 }, (_, i) => Math.cos(i * (k + 2)) * 0.1);
const MODELS: ClientUpdate[] = [
  update(SPECS, d(0), { sender: 'peer-c', examples: 10 }),
  update(SPECS, d(1), { sender: 'peer-a', examples: 30 }),
  update(SPECS, d(2), { sender: 'peer-b', examples: 7 }),
];
const SECTION = { kind: 'oneshot', method: { kind: 'ties', density: 0.5 }, deadlineS: 10, minParticipants: 2, cohort: 3 } as const;

test('oneshot: the merge is the method applied to base + delta in peer-id order, whatever the arrival order', () => {
  const merged = (order: ClientUpdate[]): Float32Array => {
    const s = createStrategy(BASE, SECTION);
    s.open(0);
    for (const u of order) assert.ok(s.offer(u).accepted);
    assert.ok(s.ready(1));
    const r = s.aggregate(1);
    assert.deepEqual(r.participants, ['peer-a', 'peer-b', 'peer-c']);
    assert.equal(r.version, 1);
    assert.equal(r.report?.event, 'oneshot.merged');
    return r.params.data.slice();
  };
  const a = merged(MODELS);
  assert.deepEqual(merged([...MODELS].reverse()), a);
  const bySender = [...MODELS].sort((x, y) => (x.sender < y.sender ? -1 : 1)).map((u) => {
    const p = BASE.clone();
    p.data.forEach((v, i) => (p.data[i] = v + u.delta.data[i]));
    return p;
  });
  assert.deepEqual(a, ties(BASE, bySender, { density: 0.5 }).data);
});

test('oneshot: a saved collection restores with its models; duplicates, slices and late models are refused', () => {
  const s = createStrategy(BASE, SECTION);
  s.open(0);
  assert.ok(s.offer(MODELS[0]).accepted);
  assert.ok(s.offer(MODELS[1]).accepted);
  assert.equal(s.offer(update(SPECS, d(5), { sender: 'peer-c', examples: 10 })).accepted, false);
  assert.equal(s.check(update(SPECS, d(5), { sender: 'peer-c', examples: 10 }))?.code, 'DUPLICATE_SENDER');
  const half = { tensors: [{ name: 'w', axes: [{ kind: 'range' as const, start: 0, end: 2 }, { kind: 'all' as const }] }, { name: 'b', axes: [{ kind: 'all' as const }] }] };
  assert.equal(s.check(sliceUpdate(SPECS, half, d(1).slice(0, 12), { sender: 'peer-z', examples: 1 }))?.code, 'NEEDS_FULL_MODEL');
  assert.equal(s.check(update(SPECS, d(1), { sender: 'peer-z', round: 1 }))?.code, 'WRONG_ROUND');
  const r = restoreStrategy(s.saveState(), SECTION);
  assert.ok(r instanceof OneShot);
  assert.equal(r.received, 2);
  assert.equal(r.check(MODELS[0])?.code, 'DUPLICATE_SENDER');
  r.open(0);
  s.offer(MODELS[2]);
  r.offer(MODELS[2]);
  assert.deepEqual(r.aggregate(0).params.data, s.aggregate(0).params.data);
  assert.equal(s.check(update(SPECS, d(1), { sender: 'peer-z' }))?.code, 'ROUND_CLOSED');
  assert.equal(restoreStrategy(s.saveState(), SECTION).version, 1);
});

test('oneshot: below minParticipants at the deadline the run fails naming counts; a deadline with enough merges what it has', () => {
  const s = createStrategy(BASE, SECTION);
  s.open(1000);
  s.offer(MODELS[0]);
  assert.equal(s.ready(10_999), false);
  assert.equal(s.ready(11_000), false);
  assert.throws(() => s.abandon(11_000), (e: unknown) => e instanceof AggregatorError && e.code === 'AGG_TOO_FEW' && e.message === 'one-shot merge refused at the deadline: 1 model(s) received (from peer-c), minParticipants is 2');
  s.offer(MODELS[1]);
  assert.equal(s.ready(10_999), false);
  assert.equal(s.ready(11_000), true);
  assert.deepEqual(s.aggregate(11_000).participants, ['peer-a', 'peer-c']);
});

test('oneshot: section rules, and trainers start from their own initialisation only with differentInit', () => {
  const e = strategyEntry('oneshot');
  assert.equal(e.versions, 1);
  assert.deepEqual(e.check(SECTION, { path: 'strategy' }), []);
  assert.deepEqual(e.check({ ...SECTION, cohort: 1 }, { path: 'strategy' }), ['strategy.minParticipants 2 is more than strategy.cohort 1']);
  assert.deepEqual(e.check({ ...SECTION, differentInit: true }, { path: 'strategy' }), [
    'strategy.differentInit merges models of different initialisations after weight matching: strategy.method must be average or slerp, not ties (it merges task vectors of one base)',
  ]);
  assert.deepEqual(localTrainingOf(SECTION), {});
  assert.deepEqual(localTrainingOf({ ...SECTION, method: { kind: 'average' }, differentInit: true }), { ownInit: true });
});

test('oneshot with differentInit: models are weight-matched to the first (in peer-id order) before averaging', () => {
  // A two-layer MLP laid out as the mlp task lays it out: fc1 then head, weights [out, in].
  const specs = [{ name: 'fc1.weight', shape: [4, 3] }, { name: 'fc1.bias', shape: [4] }, { name: 'head.weight', shape: [2, 4] }, { name: 'head.bias', shape: [2] }];
  const n = 12 + 4 + 8 + 2;
  const base = params(specs, Array.from({ length: n }, () => 0));
  const delta = (k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + k * 2.3));
  const us = [update(specs, delta(1), { sender: 'peer-b', examples: 5 }), update(specs, delta(2), { sender: 'peer-a', examples: 15 })];
  const s = createStrategy(base, { kind: 'oneshot', method: { kind: 'average' }, deadlineS: 1, cohort: 2, differentInit: true });
  s.open(0);
  for (const u of us) assert.ok(s.offer(u).accepted);
  const got = s.aggregate(0).params.data;
  const [a, b] = [params(specs, delta(2)), params(specs, delta(1))];
  const layers = [{ weight: 'fc1.weight', bias: 'fc1.bias' }, { weight: 'head.weight', bias: 'head.bias' }];
  assert.deepEqual(got, mergeAverage([a, weightMatching(a, b, layers).permuted], [15, 5]).data);
  // Not the plain average: the alignment did something here.
  assert.notDeepEqual(got, mergeAverage([a, b], [15, 5]).data);
});

/**
 * An assembler whose result has another layout than its inputs (their concatenation, as
 * experts stack): enough to see the strategy's side of an assembled merge. The real one
 * (a mixture of experts with trained routers) is the daemon's, tested with real processes.
 */
const STACKING: ModelAssembler = {
  methods: ['moe'],
  assemble: async (_m, inputs) => {
    await new Promise((r) => setTimeout(r, 5));
    const out = new Float32Array(inputs.reduce((n, p) => n + p.size, 0));
    inputs.forEach((p, i) => out.set(p.data, i * p.size));
    return ParamSet.wrap([{ name: 'stacked', shape: [inputs.length, inputs[0].size] }], out);
  },
};
const MOE_SECTION = { kind: 'oneshot', method: { kind: 'moe', routerSteps: 5 }, deadlineS: 10, minParticipants: 2, cohort: 3 } as const;

test('oneshot moe: assembled in prepare, with models sealed meanwhile; the made version survives a restore in its own layout; no assembler, no run', async () => {
  assert.throws(() => createStrategy(BASE, MOE_SECTION), /method moe trains part of the merged model, which this runtime cannot do: run it on daemons/);
  assert.deepEqual(strategyEntry('oneshot').check({ ...MOE_SECTION, minParticipants: 1 }, { path: 'strategy' }), ['strategy.method moe makes each model an expert of a mixture: set strategy.minParticipants to at least 2']);
  const s = createStrategy(BASE, { ...MOE_SECTION, cohort: undefined }, { assembler: STACKING });
  s.open(0);
  s.offer(MODELS[0]);
  s.offer(MODELS[1]);
  assert.ok(s.ready(10_000), 'two models at the deadline');
  assert.throws(() => s.aggregate(10_000), /prepare\(\), which has not finished/);
  const preparing = s.prepare!(10_000);
  // The models being assembled are final: a third is refused, not acknowledged and left out.
  assert.equal(s.check(MODELS[2])?.code, 'ROUND_CLOSED');
  await preparing;
  const r = s.aggregate(10_000);
  assert.deepEqual(r.params.specs, [{ name: 'stacked', shape: [2, 20] }]);
  const inputs = ['peer-a', 'peer-c'].map((p) => {
    const u = MODELS.find((m) => m.sender === p)!;
    return BASE.data.map((v, i) => v + u.delta.data[i]);
  });
  assert.deepEqual(r.params.data, Float32Array.from([...inputs[0], ...inputs[1]]));
  assert.deepEqual(r.references?.map((x) => x.label), ['peer-a', 'peer-c', 'average']);
  // A restart after the merge serves it again, in its own layout, with no assembler at hand.
  const back = restoreStrategy(s.saveState(), MOE_SECTION);
  assert.equal(back.version, 1);
  assert.deepEqual(back.global.specs, r.params.specs);
  assert.deepEqual(back.global.data, r.params.data);
  // Before the merge, a restore needs the assembler again.
  const early = createStrategy(BASE, MOE_SECTION, { assembler: STACKING });
  early.offer(MODELS[0]);
  assert.throws(() => restoreStrategy(early.saveState(), MOE_SECTION), /run it on daemons/);
  assert.equal(restoreStrategy(early.saveState(), MOE_SECTION, { assembler: STACKING }).received, 1);
});

test('oneshot with differentInit on a CNN: the runtime\'s permutation spec aligns the models, so a permuted copy merges back into the original', () => {
  const cnn = tasks.createTask('cnn', { dataset: 'mnist' });
  const spec = cnnSpec(cnn.specs);
  const base = cnn.initialParams(1);
  const a = cnn.initialParams(2);
  // B is A with every channel and hidden unit relabelled: the same function, other coordinates.
  const rng = new Rng(9);
  const perms = spec.groups.map((g) => {
    const p = Int32Array.from({ length: g.size }, (_, i) => i);
    for (let i = g.size - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  });
  const b = permuteBySpec(a, spec, perms);
  const delta = (m: ParamSet, sender: string): ClientUpdate => update(cnn.specs, Array.from(m.data, (v, i) => v - base.data[i]), { sender, examples: 10 });
  const section = { kind: 'oneshot', method: { kind: 'average' }, deadlineS: 10, minParticipants: 2, cohort: 2, differentInit: true } as const;
  const merged = (ctx: { alignment?: typeof spec }): Float32Array => {
    const s = createStrategy(base, section, ctx);
    s.open(0);
    assert.ok(s.offer(delta(a, 'peer-a')).accepted);
    assert.ok(s.offer(delta(b, 'peer-b')).accepted);
    return s.aggregate(0).params.data;
  };
  // Without the spec a CNN is not taken for an MLP: refused when the strategy is made, naming the 4-D tensor.
  assert.throws(() => merged({}), /without the task's permutation spec .* only an MLP can be matched: "conv1.weight" is 4-D/);
  const aligned = merged({ alignment: spec });
  const worst = aligned.reduce((m, v, i) => Math.max(m, Math.abs(v - a.data[i])), 0);
  assert.ok(worst < 1e-5, `the merge is A again (largest difference ${worst})`);
  // Averaged as they stand, the two copies blur into neither.
  const plain = mergeAverage([a, b], [1, 1]).data;
  assert.ok(plain.reduce((m, v, i) => Math.max(m, Math.abs(v - a.data[i])), 0) > 0.01);
});
