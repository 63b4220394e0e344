import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as E from '../src/engine/index.js';

/**
 * The worker executor: sessions cached per architecture, resident tensors bound as inputs and
 * overwritten by outputs in preallocated buffers (checked against plain in-thread runs), typed
 * errors, and the worker file resolved to dist/ when running from src/ under tsx.
 */

/** y = x . w + b, and w, b updated by a fixed rule, so resident round trips are checkable. */
function affineModel(): { bytes: Uint8Array } {
  const g = new E.Graph();
  const x = g.input('x', [E.BATCH, 3]);
  const w = g.param('w', [3, 2]);
  const b = g.param('b', [2]);
  const y = E.add(E.matmul(x, w), b);
  const w2 = E.mul(w, g.scalar(0.5));
  const b2 = E.add(b, g.scalar(1));
  return g.toModel({ outputs: [['y', y], ['w.next', w2], ['b.next', b2]] });
}

const isCode = (code: E.EngineErrorCode) => (e: unknown) => e instanceof E.EngineError && e.code === code;

test('executor: the worker file is the built dist/ counterpart when running from src/', () => {
  const path = E.executorWorkerPath();
  assert.match(path, /packages\/core\/dist\/engine\/executor-worker\.js$/);
  assert.ok(existsSync(path));
});

test('executor: one cached session per model bytes; resident tensors stepped in preallocated buffers', async () => {
  const ex = E.Executor.create({ intraOpThreads: 1 });
  try {
    const { bytes } = affineModel();
    const s1 = await ex.load(bytes);
    const s2 = await ex.load(bytes.slice());
    assert.equal(s1.key, s2.key);
    assert.deepEqual([...s1.inputs].sort(), ['b', 'w', 'x']);

    let w: Float32Array = Float32Array.from([1, 2, 3, 4, 5, 6]);
    let b: Float32Array = Float32Array.from([0.5, -0.5]);
    await ex.put({ 'm/w': { dtype: 'float32', dims: [3, 2], data: w }, 'm/b': { dtype: 'float32', dims: [2], data: b } });
    const x = Float32Array.from([1, 0, 2, -1, 1, 0]);
    const direct = await E.createSession(bytes, { intraOpThreads: 1 });
    for (let step = 0; step < 4; step++) {
      const r = await ex.run(s1, {
        feeds: { x: { dtype: 'float32', dims: [2, 3], data: x } },
        bind: { w: 'm/w', b: 'm/b' },
        keep: { 'w.next': 'm/w', 'b.next': 'm/b' },
        fetch: ['y', 'b.next'],
      });
      const ref = await E.runSession(direct, { x: E.toTensor('float32', x, [2, 3]), w: E.toTensor('float32', w, [3, 2]), b: E.toTensor('float32', b, [2]) });
      assert.deepEqual(Array.from(r.outputs.y.data as Float32Array), Array.from(ref.y.data as Float32Array));
      assert.deepEqual(Array.from(r.outputs['b.next'].data as Float32Array), Array.from(ref['b.next'].data as Float32Array));
      w = ref['w.next'].data as Float32Array;
      b = ref['b.next'].data as Float32Array;
      assert.ok(r.ms >= 0);
    }
    const got = await ex.get(['m/w', 'm/b']);
    assert.deepEqual(Array.from(got['m/w'].data as Float32Array), Array.from(w));
    assert.deepEqual(got['m/w'].dims, [3, 2]);
    // The caller's arrays were copied, not moved: still usable.
    await ex.drop(['m/*']);
    await assert.rejects(ex.get(['m/w']), isCode('ENGINE_STATE'));
    await assert.rejects(ex.run({ key: 'nope', inputs: [], outputs: [] }, {}), isCode('ENGINE_STATE'));
    // A run that onnxruntime refuses (wrong shape) is ENGINE_RUN, and the worker carries on.
    await ex.put({ 'm/w': { dtype: 'float32', dims: [3, 2], data: w }, 'm/b': { dtype: 'float32', dims: [2], data: b } });
    await assert.rejects(ex.run(s1, { feeds: { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } }, bind: { w: 'm/w', b: 'm/b' }, fetch: ['y'] }), isCode('ENGINE_RUN'));
    const ok = await ex.run(s1, { feeds: { x: { dtype: 'float32', dims: [1, 3], data: new Float32Array(3) } }, bind: { w: 'm/w', b: 'm/b' }, fetch: ['y'] });
    assert.deepEqual(ok.outputs.y.dims, [1, 2]);
  } finally {
    await ex.close();
  }
  await assert.rejects(ex.load(affineModel().bytes), isCode('ENGINE_STATE'));
});

test('executor: transferred feeds are handed over; many runs in flight complete in order', async () => {
  const ex = E.Executor.create({ intraOpThreads: 1 });
  try {
    const { bytes } = affineModel();
    const s = await ex.load(bytes);
    await ex.put({ w: { dtype: 'float32', dims: [3, 2], data: new Float32Array([1, 0, 0, 1, 0, 0]) }, b: { dtype: 'float32', dims: [2], data: new Float32Array(2) } });
    const runs: Promise<number>[] = [];
    for (let i = 0; i < 20; i++) {
      const x = Float32Array.from([i, 0, 0]);
      runs.push(ex.run(s, { feeds: { x: { dtype: 'float32', dims: [1, 3], data: x } }, bind: { w: 'w', b: 'b' }, keep: { 'b.next': 'b' }, fetch: ['y'], transfer: true }).then((r) => (r.outputs.y.data as Float32Array)[0]));
      assert.equal(x.length, 0, 'the buffer was transferred');
    }
    // y = x0 * 1 + b0 where b grows by one per run, in submission order.
    assert.deepEqual(await Promise.all(runs), Array.from({ length: 20 }, (_, i) => i + i));
  } finally {
    await ex.close();
  }
});

test('executor: the CUDA provider, when not installed, is a clear ENGINE_PROVIDER error', () => {
  const hasCuda = (() => {
    try {
      E.checkProvider('cuda');
      return true;
    } catch {
      return false;
    }
  })();
  if (hasCuda) return; // a machine with onnxruntime's CUDA build: nothing to refuse
  assert.throws(() => E.Executor.create({ provider: 'cuda' }), (e: unknown) => isCode('ENGINE_PROVIDER')(e) && /ONNXRUNTIME_NODE_INSTALL=cuda12/.test((e as Error).message));
});
