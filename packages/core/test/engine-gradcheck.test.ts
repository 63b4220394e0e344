import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../src/engine/index.js';
import type { FloatType, Graph, GradCheckInput, Value } from '../src/engine/index.js';

/**
 * One gradient check per registry op: autodiff's gradients against central finite differences
 * of the forward graph, both in onnxruntime. Float64 wherever onnxruntime's CPU provider has
 * float64 kernels, with a bound of 1e-6 on the relative error. Conv, AveragePool, MaxPool's
 * Resize-based 'mask' gradient and Gelu (Erf) only have float32 kernels; they are checked in
 * float32 with a looser bound, on inputs scaled so the finite differences stay informative.
 */

const F64_BOUND = 1e-6;
const F32_BOUND = 2e-3;

type Maker = (g: Graph, dims: readonly number[], opts?: { positive?: boolean; awayFromZero?: number; scale?: number }) => GradCheckInput;

/** A small seeded generator (mulberry32 + Box-Muller): test data only needs to be reproducible. */
class TestRng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
}

/** Deterministic test data: a seeded generator per check. */
function data(seed: number) {
  const rng = new TestRng(seed);
  let count = 0;
  const tensor: (name: string, shape?: E.Shape) => Maker = (name, shape) => (g, dims, opts = {}) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => {
      let v = rng.normal() * (opts.scale ?? 1);
      if (opts.positive === true) v = Math.abs(v) + 0.5;
      const away = opts.awayFromZero ?? 0;
      if (Math.abs(v) < away) v = v < 0 ? v - away : v + away;
      return v;
    });
    const value = g.input(name === '' ? `in${count++}` : name, shape ?? dims);
    return { value, data: g.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), dims };
  };
  return { rng, tensor };
}

function int64(g: Graph, name: string, values: readonly number[], dims: readonly number[]): GradCheckInput {
  return { value: g.input(name, dims, 'int64'), data: BigInt64Array.from(values.map(BigInt)), dims };
}

const results: { op: string; dtype: FloatType; err: number }[] = [];
const covered = new Set<string>();

async function check(op: string, dtype: FloatType, build: (g: Graph) => { inputs: GradCheckInput[]; output: Value }, opts: { eps?: number; bound?: number } = {}) {
  const res = await E.gradCheck(build, { dtype, eps: opts.eps, seed: 7 });
  const bound = opts.bound ?? (dtype === 'float64' ? F64_BOUND : F32_BOUND);
  results.push({ op, dtype, err: res.maxRelError });
  covered.add(op);
  assert.ok(res.elements > 0);
  assert.ok(res.maxRelError <= bound, `${op} (${dtype}): max relative error ${res.maxRelError} > ${bound} (${JSON.stringify(res.perInput)})`);
  return res;
}

test('gradcheck: MatMul (matrix, batched x matrix, batched x batched with broadcast)', async () => {
  const { tensor } = data(1);
  await check('MatMul', 'float64', (g) => {
    const a = tensor('a')(g, [3, 4]);
    const b = tensor('b')(g, [4, 2]);
    return { inputs: [a, b], output: E.matmul(a.value, b.value) };
  });
  await check('MatMul', 'float64', (g) => {
    const a = tensor('a', [E.BATCH, 3, 4])(g, [2, 3, 4]);
    const b = tensor('b')(g, [4, 5]);
    return { inputs: [a, b], output: E.matmul(a.value, b.value) };
  });
  await check('MatMul', 'float64', (g) => {
    const a = tensor('a')(g, [2, 3, 4]);
    const b = tensor('b')(g, [1, 4, 2]);
    return { inputs: [a, b], output: E.matmul(a.value, b.value) };
  });
});

test('gradcheck: Gemm (all transposes, broadcast bias, alpha and beta)', async () => {
  const { tensor } = data(2);
  for (const [transA, transB] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    await check('Gemm', 'float64', (g) => {
      const a = tensor('')(g, transA ? [4, 3] : [3, 4]);
      const b = tensor('')(g, transB ? [5, 4] : [4, 5]);
      const c = tensor('')(g, [5]);
      return { inputs: [a, b, c], output: E.gemm(a.value, b.value, c.value, { transA, transB, alpha: 0.7, beta: 1.3 }) };
    });
  }
  await check('Gemm', 'float64', (g) => {
    const a = tensor('x', [E.BATCH, 4])(g, [3, 4]);
    const b = tensor('w')(g, [4, 2]);
    return { inputs: [a, b], output: E.gemm(a.value, b.value) };
  });
});

for (const [op, fn] of [
  ['Add', E.add],
  ['Sub', E.sub],
  ['Mul', E.mul],
  ['Div', E.div],
] as const) {
  test(`gradcheck: ${op} with broadcasting (gradients summed over broadcast axes)`, async () => {
    const { tensor } = data(3);
    await check(op, 'float64', (g) => {
      const a = tensor('a')(g, [2, 3, 4]);
      const b = tensor('b')(g, [3, 1], { positive: op === 'Div' });
      return { inputs: [a, b], output: fn(a.value, b.value) };
    });
    await check(op, 'float64', (g) => {
      const a = tensor('a')(g, [1, 4], { positive: op === 'Div' });
      const b = tensor('b', [E.BATCH, 4])(g, [3, 4], { positive: op === 'Div' });
      return { inputs: [a, b], output: fn(a.value, b.value) };
    });
  });
}

for (const [op, fn, opts] of [
  ['Relu', E.relu, { awayFromZero: 0.05 }],
  ['Tanh', E.tanh, {}],
  ['Sigmoid', E.sigmoid, {}],
  ['Exp', E.exp, {}],
  ['Log', E.log, { positive: true }],
] as const) {
  test(`gradcheck: ${op}`, async () => {
    const { tensor } = data(4);
    await check(op, 'float64', (g) => {
      const x = tensor('x')(g, [3, 5], opts);
      return { inputs: [x], output: fn(x.value) };
    });
  });
}

test('gradcheck: Gelu (float32: onnxruntime has no float64 Erf kernel)', async () => {
  const { tensor } = data(5);
  await check('Gelu', 'float32', (g) => {
    const x = tensor('x')(g, [4, 6], { scale: 2 });
    return { inputs: [x], output: E.gelu(x.value) };
  });
});

test('gradcheck: Softmax on each axis', async () => {
  const { tensor } = data(6);
  for (const axis of [0, 1]) {
    await check('Softmax', 'float64', (g) => {
      const x = tensor('')(g, [3, 4]);
      return { inputs: [x], output: E.softmax(x.value, axis) };
    });
  }
});

test('gradcheck: LogSoftmax on each axis', async () => {
  const { tensor } = data(7);
  for (const axis of [0, -1]) {
    await check('LogSoftmax', 'float64', (g) => {
      const x = tensor('')(g, [3, 4]);
      return { inputs: [x], output: E.logSoftmax(x.value, axis) };
    });
  }
});

test('gradcheck: SoftmaxCrossEntropy (mean over a symbolic batch; large logits stay finite)', async () => {
  const { tensor } = data(8);
  await check('SoftmaxCrossEntropy', 'float64', (g) => {
    const z = tensor('z', [E.BATCH, 5])(g, [4, 5], { scale: 3 });
    const y = int64(g, 'y', [0, 4, 2, 2], [4]);
    return { inputs: [z, { ...y, value: g.inputs.find((v) => v.name === 'y') ?? y.value }], output: E.softmaxCrossEntropy(z.value, y.value) };
  });
  // Logits of 1000 would overflow exp() in a naive softmax; the loss must stay finite.
  const g = new E.Graph({ dtype: 'float64' });
  const z = g.input('z', [1, 3]);
  const y = g.input('y', [1], 'int64');
  const session = await E.createSession(g.toModel({ outputs: [['loss', E.softmaxCrossEntropy(z, y)]] }).bytes);
  const out = await E.runSession(session, { z: E.toTensor('float64', Float64Array.from([1000, 0, -1000]), [1, 3]), y: E.toTensor('int64', BigInt64Array.from([1n]), [1]) });
  assert.ok(Math.abs((out.loss.data as Float64Array)[0] - 1000) < 1e-9);
});

test('gradcheck: Reshape (with -1 and a symbolic batch)', async () => {
  const { tensor } = data(9);
  await check('Reshape', 'float64', (g) => {
    const x = tensor('x', [E.BATCH, 3, 4])(g, [2, 3, 4]);
    return { inputs: [x], output: E.mul(E.reshape(x.value, [-1, 6]), E.reshape(x.value, [-1, 6])) };
  });
});

test('gradcheck: Flatten', async () => {
  const { tensor } = data(10);
  await check('Flatten', 'float64', (g) => {
    const x = tensor('x', [E.BATCH, 2, 3])(g, [2, 2, 3]);
    return { inputs: [x], output: E.flatten(x.value, 1) };
  });
});

test('gradcheck: Transpose', async () => {
  const { tensor } = data(11);
  await check('Transpose', 'float64', (g) => {
    const x = tensor('x')(g, [2, 3, 4]);
    return { inputs: [x], output: E.transpose(x.value, [2, 0, 1]) };
  });
});

test('gradcheck: Concat', async () => {
  const { tensor } = data(12);
  await check('Concat', 'float64', (g) => {
    const a = tensor('a')(g, [2, 1, 3]);
    const b = tensor('b')(g, [2, 4, 3]);
    const c = tensor('c')(g, [2, 2, 3]);
    return { inputs: [a, b, c], output: E.concat([a.value, b.value, c.value], 1) };
  });
});

test('gradcheck: Slice (negative and clamped bounds)', async () => {
  const { tensor } = data(13);
  await check('Slice', 'float64', (g) => {
    const x = tensor('x')(g, [4, 5, 3]);
    return { inputs: [x], output: E.slice(x.value, [1, -4], [-1, 100], [0, 1]) };
  });
});

test('gradcheck: Gather (embedding lookup with repeated indices: scatter-add)', async () => {
  const { tensor } = data(14);
  await check('Gather', 'float64', (g) => {
    const table = tensor('table')(g, [5, 3]);
    const idx = int64(g, 'idx', [0, 3, 3, 1, 0, 3], [2, 3]);
    return { inputs: [table, idx], output: E.gather(table.value, idx.value) };
  });
});

test('gradcheck: ReduceSum (some axes, all axes, keepdims)', async () => {
  const { tensor } = data(15);
  for (const [axes, keep] of [
    [[1], false],
    [[0, 2], true],
    [undefined, false],
  ] as const) {
    await check('ReduceSum', 'float64', (g) => {
      const x = tensor('')(g, [2, 3, 4]);
      return { inputs: [x], output: E.reduceSum(x.value, axes, keep) };
    });
  }
});

test('gradcheck: ReduceMean (static axes, and the symbolic batch axis)', async () => {
  const { tensor } = data(16);
  await check('ReduceMean', 'float64', (g) => {
    const x = tensor('x')(g, [2, 3, 4]);
    return { inputs: [x], output: E.reduceMean(x.value, [2], true) };
  });
  await check('ReduceMean', 'float64', (g) => {
    const x = tensor('x', [E.BATCH, 3])(g, [5, 3]);
    return { inputs: [x], output: E.reduceMean(x.value, [0], false) };
  });
});

test('gradcheck: LayerNormalization (last axis, and the last two axes)', async () => {
  const { tensor } = data(17);
  await check('LayerNormalization', 'float64', (g) => {
    const x = tensor('x')(g, [3, 5]);
    const s = tensor('scale')(g, [5]);
    const b = tensor('bias')(g, [5]);
    return { inputs: [x, s, b], output: E.layerNorm(x.value, s.value, b.value) };
  });
  await check('LayerNormalization', 'float64', (g) => {
    const x = tensor('x')(g, [2, 3, 4]);
    const s = tensor('scale')(g, [3, 4]);
    return { inputs: [x, s], output: E.layerNorm(x.value, s.value, undefined, { axis: 1, epsilon: 1e-3 }) };
  });
});

test('gradcheck: Conv (float32: no float64 Conv kernel; stride, padding, dilation)', async () => {
  const { tensor } = data(18);
  // Stride 1 takes the flipped-Conv input gradient and the im2col weight gradient (the second
  // case with asymmetric pads and dilation, the third with a pad too large for the flipped
  // form); other strides take ConvTranspose and the swapped Conv.
  const cases: E.Conv2dOptions[] = [
    {},
    { pads: [1, 0, 2, 1], dilations: [2, 1] },
    { pads: [3, 0, 0, 0] },
    { strides: [2, 2], pads: [1, 1, 1, 1] },
    { strides: [2, 1], pads: [0, 2, 1, 0], dilations: [1, 2] },
  ];
  for (const o of cases) {
    // Conv is linear in x and in w, so a large step has no truncation error and beats rounding.
    await check(
      'Conv',
      'float32',
      (g) => {
        const x = tensor('x', [E.BATCH, 2, 7, 6])(g, [2, 2, 7, 6]);
        const w = tensor('w')(g, [3, 2, 3, 3]);
        const b = tensor('b')(g, [3]);
        return { inputs: [x, w, b], output: E.conv2d(x.value, w.value, b.value, o) };
      },
      { eps: 0.5 },
    );
  }
});

test('gradcheck: MaxPool (float64 indices gradient with overlap and padding; float32 mask gradient)', async () => {
  const { tensor } = data(19);
  await check('MaxPool', 'float64', (g) => {
    const x = tensor('x', [E.BATCH, 2, 5, 5])(g, [2, 2, 5, 5]);
    return { inputs: [x], output: E.maxPool2d(x.value, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) };
  });
  await check('MaxPool', 'float64', (g) => {
    const x = tensor('x')(g, [2, 3, 4, 6]);
    return { inputs: [x], output: E.maxPool2d(x.value, { kernel: [2, 2] }) };
  });
  // The mask form is piecewise linear: a step below the gap between window elements is exact.
  await check(
    'MaxPool',
    'float32',
    (g) => {
      const x = tensor('x', [E.BATCH, 2, 4, 6])(g, [2, 2, 4, 6]);
      return { inputs: [x], output: E.maxPool2d(x.value, { kernel: [2, 2], gradient: 'mask' }) };
    },
    { eps: 1e-3 },
  );
});

test('gradcheck: AveragePool (float32: no float64 kernel; tiled, and overlapping with pads)', async () => {
  const { tensor } = data(20);
  for (const o of [{ kernel: [2, 2] }, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }] as E.PoolOptions[]) {
    await check(
      'AveragePool',
      'float32',
      (g) => {
        const x = tensor('x', [E.BATCH, 2, 6, 6])(g, [2, 2, 6, 6]);
        return { inputs: [x], output: E.avgPool2d(x.value, o) };
      },
      { eps: 0.5 },
    );
  }
});

test('gradcheck: GlobalAveragePool', async () => {
  const { tensor } = data(21);
  await check('GlobalAveragePool', 'float64', (g) => {
    const x = tensor('x', [E.BATCH, 3, 4, 5])(g, [2, 3, 4, 5]);
    return { inputs: [x], output: E.globalAvgPool(x.value) };
  });
});

test('gradcheck: Dropout (mask input from a seeded generator)', async () => {
  const { tensor, rng } = data(22);
  await check('Dropout', 'float64', (g) => {
    const x = tensor('x', [E.BATCH, 6])(g, [3, 6]);
    const mask = new Float64Array(18);
    E.fillDropoutMask(mask, 0.3, () => rng.uniform());
    assert.ok(mask.includes(0) && mask.includes(1));
    const m: GradCheckInput = { value: g.input('mask', [E.BATCH, 6]), data: mask, dims: [3, 6], check: false };
    return { inputs: [x, m], output: E.dropout(x.value, m.value, 0.3) };
  });
});

test('gradcheck: Where (bool mask, broadcast branches)', async () => {
  const { tensor } = data(23);
  await check('Where', 'float64', (g) => {
    const cond: GradCheckInput = { value: g.input('cond', [3, 4], 'bool'), data: Uint8Array.from({ length: 12 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0), dims: [3, 4] };
    const a = tensor('a')(g, [3, 4]);
    const b = tensor('b')(g, [4]);
    return { inputs: [cond, a, b], output: E.where(cond.value, a.value, b.value) };
  });
});

test('gradcheck: a composite graph (fan-out, shared parameters, a chain of ops) in float64', async () => {
  const { tensor } = data(24);
  const res = await E.gradCheck(
    (g) => {
      const table = tensor('table')(g, [6, 4]);
      const idx = int64(g, 'idx', [1, 5, 1, 0, 2, 5], [2, 3]);
      const scale = tensor('scale')(g, [4], { positive: true });
      const w = tensor('w')(g, [4, 4]);
      const emb = E.gather(table.value, idx.value); // [2, 3, 4]
      const h = E.layerNorm(emb, scale.value);
      const a = E.tanh(E.matmul(h, w.value));
      const b = E.sigmoid(E.matmul(emb, w.value)); // w and emb both used twice
      const attn = E.softmax(E.matmul(a, E.transpose(b, [0, 2, 1])), -1); // [2, 3, 3]
      const mixed = E.matmul(attn, E.concat([E.slice(a, [0], [2], [2]), E.slice(b, [2], [4], [2])], 2));
      return { inputs: [table, idx, scale, w], output: E.add(E.reduceMean(mixed, [1]), E.reduceSum(h, [1])) };
    },
    { dtype: 'float64', seed: 3 },
  );
  assert.ok(res.maxRelError <= F64_BOUND, JSON.stringify(res.perInput));
  results.push({ op: '(composite)', dtype: 'float64', err: res.maxRelError });
});

test('gradcheck: every registry op has a check', () => {
  assert.deepEqual([...covered].sort(), E.registeredOps());
  for (const r of results) console.log(`# ${r.op.padEnd(20)} ${r.dtype}  max rel err ${r.err.toExponential(2)}`);
});
