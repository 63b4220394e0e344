import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet, demoAccumulate, demoFinish, type EncodedTensor } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import { DemoSync, DilocoSync, contributionProblem } from '../src/index.js';
import { close, params } from './helpers.js';

const ROW = [{ name: 'w', shape: [1, 4] }];

/** A hand-made DeMo contribution for a [1, 4] tensor coded as one chunk of 4 with top-1. */
function oneCoefficient(sync: DemoSync, index: number, value: number): EncodedTensor[] {
  const p = sync.codecs[0];
  // fp16 value then the u8 index (demo codec layout, spec 4 values exact in fp16).
  const payload = new Uint8Array(3);
  new DataView(payload.buffer).setUint16(0, value === 1 ? 0x3c00 : value === 3 ? 0x4200 : 0, true);
  payload[2] = index;
  return [{ name: 'w', shape: [1, 4], params: p, payload }];
}

test('DeMo decode (spec 4): two peers sending 1 and 3 at one index decode to 2; a single sender with 1 decodes to 1', () => {
  const sync = new DemoSync(ROW, { topk: 1, chunk: 4 });
  const p = sync.codecs[0];
  assert.deepEqual(p, { codec: 'demo', chunkRows: 1, chunkCols: 4, topk: 1, values: 'fp16' });
  // The IDCT of coefficient c at k = 0 over a chunk of 4 is c·α₀ = c/2 everywhere.
  const decoded = (values: number[]) => {
    const sum = new Float32Array(4);
    const count = new Uint32Array(4);
    for (const v of values) demoAccumulate(oneCoefficient(sync, 0, v)[0].payload, [1, 4], p, sum, count, 'w');
    const out = new Float32Array(4);
    demoFinish(sum, count, [1, 4], p, out);
    return out;
  };
  close(decoded([1, 3]), [1, 1, 1, 1]);
  close(decoded([1]), [0.5, 0.5, 0.5, 0.5]);
  // And the step: p ← p − η·sign(G).
  const both = params(ROW, [0, 0, 0, 0]);
  sync.apply(both, new Map([['a', oneCoefficient(sync, 0, 1)], ['b', oneCoefficient(sync, 0, 3)]]), 0.5);
  close(both.data, [-0.5, -0.5, -0.5, -0.5]);
});

test('DeMo with topk = the whole chunk and one peer (spec 4): the residual is 0 and p ← p − η·sign(δ)', () => {
  const specs = [{ name: 'w', shape: [4, 8] }];
  const sync = new DemoSync(specs, { topk: 32, chunk: 8, beta: 0.9 });
  const p = params(specs, Array.from({ length: 32 }, (_, i) => i / 10));
  const g = params(specs, Array.from({ length: 32 }, (_, i) => Math.sin(i + 1)));
  const before = p.data.slice();
  const sent = sync.compress(g, 0.01);
  // Zero up to the fp16 rounding of the values sent (the residual is exact about what was sent).
  for (const r of sync.state()) assert.ok(r.every((x) => Math.abs(x) < 1e-5), `the residual is zero when everything is sent: ${Math.max(...r.map(Math.abs))}`);
  sync.apply(p, new Map([['me', sent]]), 0.01);
  // fp16 values: sign(decoded) equals sign(δ) = sign(g) wherever |g| is not tiny.
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(p.data[i] - (before[i] - 0.01 * Math.sign(g.data[i]))) < 1e-6, `element ${i}`);
});

test('DeMo: the result does not depend on the order contributions arrived in, bit for bit', () => {
  const specs = [
    { name: 'a', shape: [8, 16] },
    { name: 'b', shape: [16] },
  ];
  const peers = ['p3', 'p1', 'p2'];
  const grads = peers.map((_, k) => {
    const r = new Rng(k + 1);
    return params(specs, Array.from({ length: 144 }, () => r.normal()));
  });
  const run = (order: number[]) => {
    const syncs = peers.map(() => new DemoSync(specs, { topk: 5, topk1d: 3, chunk: 8 }));
    const sent = peers.map((_, k) => syncs[k].compress(grads[k], 0.1));
    const p = params(specs, new Array<number>(144).fill(0.5));
    syncs[0].apply(p, new Map(order.map((k) => [peers[k], sent[k]])), 0.1);
    return p.data;
  };
  assert.deepEqual(run([0, 1, 2]), run([2, 0, 1]));
});

test('DiLoCo outer step (spec 3): Nesterov with θ = 1 and ḡ = 0.1 twice → 0.867, then 0.6773', () => {
  const specs = [{ name: 'x', shape: [1] }];
  const sync = new DilocoSync(params(specs, [1]), { outerLr: 0.7, outerMomentum: 0.9, codec: { codec: 'fp32' }, errorFeedback: false });
  // Every peer's inner model ended 0.1 below θ: the pseudo-gradient θ − θ_m is 0.1.
  const step = () => {
    const local = sync.global.clone();
    local.data[0] -= 0.1;
    const c = sync.compress(local);
    sync.apply(new Map([['a', c], ['b', c]]));
  };
  step();
  close(sync.global.data, [0.867], 1e-6);
  step();
  close(sync.global.data, [0.6773], 1e-6);
  assert.equal(sync.outerSteps, 2);
});

test('DiLoCo\'s last outer step lands on the peers\' average model, momentum or not', () => {
  const specs = [{ name: 'x', shape: [2] }];
  const sync = new DilocoSync(params(specs, [1, 1]), { outerLr: 0.7, outerMomentum: 0.9, codec: { codec: 'fp32' }, errorFeedback: false });
  const two = () => new Map([['a', sync.compress(params(specs, [0.8, 1.2]))], ['b', sync.compress(params(specs, [1.0, 1.6]))]]);
  sync.apply(two());
  // A Nesterov step from θ = 1 toward the average (0.9, 1.4) overshoots it: θ + 0.7·1.9·(−0.1, 0.4).
  close(sync.global.data, [0.867, 1.532], 1e-6);
  sync.apply(two(), true);
  close(sync.global.data, [0.9, 1.4], 1e-6);
  assert.equal(sync.outerSteps, 2);
});

test('DiLoCo with M = 1, H = 1, η_out = 1, μ = 0 is the inner step itself (spec 3)', () => {
  const specs = [{ name: 'x', shape: [3] }];
  const sync = new DilocoSync(params(specs, [1, 2, 3]), { outerLr: 1, outerMomentum: 0, codec: { codec: 'fp32' }, errorFeedback: false });
  const local = params(specs, [0.9, 2.2, 2.5]); // θ_m after one inner SGD step
  sync.apply(new Map([['me', sync.compress(local)]]));
  close(sync.global.data, [0.9, 2.2, 2.5], 1e-7);
});

test('DiLoCo: a joining peer that adopts the shared state computes the same next step bit for bit', () => {
  const specs = [{ name: 'x', shape: [300] }];
  const r = new Rng(7);
  const init = params(specs, Array.from({ length: 300 }, () => r.normal()));
  const a = new DilocoSync(init);
  const locals = [0, 1].map(() => params(specs, Array.from(init.data, (v) => v + 0.01 * r.normal())));
  a.apply(new Map(locals.map((l, i) => [`p${i}`, a.compress(l)])));
  const b = new DilocoSync(init);
  b.adopt(a.shared());
  const next = [0, 1].map(() => params(specs, Array.from(a.global.data, (v) => v + 0.01 * r.normal())));
  const coded = next.map((l) => a.compress(l));
  a.apply(new Map(coded.map((c, i) => [`p${i}`, c])));
  b.apply(new Map(coded.map((c, i) => [`p${i}`, c])));
  assert.deepEqual(a.global.data, b.global.data);
});

test('DiLoCo with int4 pseudo-gradients: half int8\'s bytes, and error feedback sends what a step rounded away', () => {
  const specs = [{ name: 'x', shape: [512] }];
  const r = new Rng(3);
  const init = params(specs, Array.from({ length: 512 }, () => r.normal()));
  const int4 = new DilocoSync(init, { outerLr: 1, outerMomentum: 0, codec: { codec: 'int4', blockSize: 256 } });
  const int8 = new DilocoSync(init, { outerLr: 1, outerMomentum: 0 });
  const shift = params(specs, Array.from({ length: 512 }, () => 0.01 * r.normal()));
  const local = (g: ParamSet) => params(specs, Array.from(g.data, (v, i) => v + shift.data[i]));
  const bytes = (c: EncodedTensor[]) => c.reduce((n, t) => n + t.payload.byteLength, 0);
  assert.equal(bytes(int4.compress(local(int4.global))), 2 * 4 + 256);
  assert.equal(bytes(int8.compress(local(int8.global))), 2 * 4 + 512);
  // With outer lr 1 and no momentum θ follows the sent shifts; over 20 rounds of the same
  // shift, error feedback keeps θ's total movement within one round's rounding of 20 shifts.
  const sync = new DilocoSync(init, { outerLr: 1, outerMomentum: 0, codec: { codec: 'int4', blockSize: 256 } });
  let worst = 0;
  for (let t = 0; t < 20; t++) sync.apply(new Map([['me', sync.compress(local(sync.global))]]));
  let maxShift = 0;
  for (let i = 0; i < 512; i++) maxShift = Math.max(maxShift, Math.abs(shift.data[i]));
  for (let i = 0; i < 512; i++) worst = Math.max(worst, Math.abs(sync.global.data[i] - init.data[i] - 20 * shift.data[i]));
  assert.ok(worst <= maxShift / 7, `drift ${worst} over half a step`);
});

test('contributions of another layout or codec are named and refused', () => {
  const specs = [{ name: 'w', shape: [4, 8] }];
  const sync = new DemoSync(specs, { topk: 4, chunk: 8 });
  const good = sync.compress(ParamSet.zeros(specs), 0.1);
  assert.equal(contributionProblem(specs, sync.codecs, good), null);
  assert.match(contributionProblem(specs, sync.codecs, [])!, /0 tensors, the model has 1/);
  assert.match(contributionProblem(specs, sync.codecs, [{ ...good[0], name: 'v' }])!, /"v", expected "w"/);
  assert.match(contributionProblem(specs, sync.codecs, [{ ...good[0], shape: [8, 4] }])!, /shape \[8, 4\]/);
  assert.match(contributionProblem(specs, sync.codecs, [{ ...good[0], params: { ...sync.codecs[0], topk: 5 } }])!, /coded as/);
  assert.throws(() => sync.apply(ParamSet.zeros(specs), new Map([['bad', [{ ...good[0], name: 'v' }]]]), 0.1), /contribution of bad/);
});
