import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH, EngineError, Graph, OPSET, createSession, decodeModel, gemm, matmul, relu, runSession, toTensor } from '../src/engine/index.js';

function linearRelu(g: Graph) {
  const x = g.input('x', [BATCH, 3]);
  const w = g.param('w', [3, 2]);
  const b = g.param('b', [2]);
  return { x, w, b, y: relu(gemm(x, w, b)) };
}

test('builder: a graph with a symbolic batch serialises to ONNX at the pinned opset', () => {
  const g = new Graph({ name: 'tiny' });
  const { y } = linearRelu(g);
  const model = g.toModel({ outputs: [['y', y]] });
  const m = decodeModel(model.bytes) as {
    irVersion: number;
    opsetImport: { version: number }[];
    graph: { node: { opType: string }[]; input: { name: string; type: { tensorType: { shape: { dim: { dimParam?: string; dimValue?: number }[] } } } }[] };
  };
  assert.equal(OPSET, 17);
  assert.equal(m.opsetImport[0].version, 17);
  assert.equal(m.irVersion, 8);
  assert.deepEqual(m.graph.node.map((n) => n.opType), ['Gemm', 'Relu']);
  assert.deepEqual(m.graph.input.map((i) => i.name), ['x', 'w', 'b']);
  assert.deepEqual(m.graph.input[0].type.tensorType.shape.dim, [{ dimParam: 'N' }, { dimValue: 3 }]);
  assert.deepEqual(model.outputs, [{ name: 'y', dtype: 'float32', shape: ['N', 2] }]);
});

test('builder: onnxruntime runs the model for two batch sizes and matches a plain reference', async () => {
  const g = new Graph();
  const { y } = linearRelu(g);
  const session = await createSession(g.toModel({ outputs: [['y', y]] }).bytes);
  const w = Float32Array.from([1, -1, 2, 0.5, -3, 1]);
  const b = Float32Array.from([0.25, -0.5]);
  for (const n of [1, 4]) {
    const x = Float32Array.from({ length: n * 3 }, (_, i) => (i % 5) - 2);
    const out = await runSession(session, { x: toTensor('float32', x, [n, 3]), w: toTensor('float32', w, [3, 2]), b: toTensor('float32', b, [2]) });
    assert.deepEqual(out.y.dims, [n, 2]);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < 2; c++) {
        let s = b[c];
        for (let k = 0; k < 3; k++) s += x[r * 3 + k] * w[k * 2 + c];
        assert.ok(Math.abs((out.y.data as Float32Array)[r * 2 + c] - Math.max(0, s)) < 1e-6);
      }
    }
  }
});

test('builder: initializers bake parameters in and unused nodes are pruned', async () => {
  const g = new Graph({ dtype: 'float64' });
  const { x, y } = linearRelu(g);
  matmul(x, g.param('unused', [3, 3])); // a dead branch: it must not reach the model
  const model = g.toModel({ outputs: [['y', y]], initializers: new Map([['w', new Float64Array(6).fill(1)], ['b', new Float64Array(2).fill(-1)]]) });
  assert.deepEqual(model.inputs.map((i) => i.name), ['x']);
  const session = await createSession(model.bytes);
  const out = await runSession(session, { x: toTensor('float64', Float64Array.from([1, 2, 3]), [1, 3]) });
  assert.ok(out.y.data instanceof Float64Array);
  assert.deepEqual(Array.from(out.y.data as Float64Array), [5, 5]);
});

test('builder: bad shapes and names fail with typed errors', () => {
  const g = new Graph();
  const x = g.input('x', [BATCH, 3]);
  assert.throws(() => g.input('x', [1]), (e: unknown) => e instanceof EngineError && e.code === 'ENGINE_GRAPH');
  assert.throws(() => matmul(x, g.param('w', [4, 2])), (e: unknown) => e instanceof EngineError && e.code === 'ENGINE_SHAPE');
  assert.throws(() => g.constant([1, 2, 3], [2, 2]), (e: unknown) => e instanceof EngineError && e.code === 'ENGINE_SHAPE');
  const other = new Graph();
  assert.throws(() => matmul(x, other.param('v', [3, 2])), (e: unknown) => e instanceof EngineError && e.code === 'ENGINE_GRAPH');
});

test('session: the cuda provider either runs or fails with ENGINE_PROVIDER', async () => {
  const g = new Graph();
  const x = g.input('x', [2]);
  const bytes = g.toModel({ outputs: [['y', relu(x)]] }).bytes;
  let session;
  try {
    session = await createSession(bytes, { provider: 'cuda' });
  } catch (err) {
    assert.ok(err instanceof EngineError && err.code === 'ENGINE_PROVIDER', String(err));
    assert.match(err.message, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
    return;
  }
  // A machine with the CUDA provider installed: it must compute the same thing.
  const out = await runSession(session, { x: toTensor('float32', Float32Array.from([-1, 2]), [2]) });
  assert.deepEqual(Array.from(out.y.data as Float32Array), [0, 2]);
});
