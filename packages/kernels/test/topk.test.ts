import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accumulateChunks,
  dctForward1d,
  dctForward2d,
  dctInverse1d,
  dctInverse2d,
  meanOfSelected,
  scatterChunks,
  topkChunks,
  topkIndexArray,
} from '../src/dct/index.js';
import { KernelError } from '../src/errors.js';

function code(c: string) {
  return (e: unknown) => e instanceof KernelError && e.code === c;
}

function signal(n: number, seed = 1, scale = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2147483648 - 1) * scale;
  }
  return a;
}

/** Values drawn from a few magnitudes with both signs, so ties are everywhere. */
function tied(n: number, seed: number): Float32Array {
  const a = signal(n, seed);
  for (let i = 0; i < n; i++) a[i] = Math.round(a[i] * 3) / 2; // {-1.5, -1, -0.5, 0, 0.5, 1, 1.5}
  return a;
}

/** Reference: sort by (|x| desc, index asc), keep k, then order by index. */
function refTopk(src: Float32Array, chunk: number, k: number): { idx: number[]; val: number[] } {
  const idx: number[] = [];
  const val: number[] = [];
  for (let base = 0; base < src.length; base += chunk) {
    const order = Array.from({ length: chunk }, (_, i) => i);
    order.sort((a, b) => Math.abs(src[base + b]) - Math.abs(src[base + a]) || a - b);
    const keep = order.slice(0, k).sort((a, b) => a - b);
    for (const i of keep) {
      idx.push(i);
      val.push(src[base + i]);
    }
  }
  return { idx, val };
}

function run(src: Float32Array, chunk: number, k: number) {
  const n = (src.length / chunk) * k;
  const idx = topkIndexArray(chunk, n);
  const val = new Float32Array(n);
  topkChunks(src, chunk, k, idx, val);
  return { idx, val };
}

test('top-k matches a sort-based reference across chunk sizes and k (both selection paths)', () => {
  const cases: [number, number][] = [
    [1, 1],
    [4, 1],
    [4, 2],
    [4, 3],
    [4, 4],
    [29, 5],
    [64, 1],
    [64, 8],
    [64, 16],
    [64, 17],
    [64, 32],
    [64, 63],
    [64, 64],
    [256, 12],
    [256, 200],
    [300, 7],
    [300, 150],
    [4096, 32],
    [4096, 1000],
  ];
  for (const [chunk, k] of cases) {
    for (const make of [signal, tied]) {
      const src = make(chunk * 6, chunk * 13 + k);
      const got = run(src, chunk, k);
      const want = refTopk(src, chunk, k);
      assert.deepEqual(Array.from(got.idx), want.idx, `chunk=${chunk} k=${k} ${make.name}: indices`);
      assert.deepEqual(Array.from(got.val), want.val, `chunk=${chunk} k=${k} ${make.name}: values`);
    }
  }
});

test('ties go to the lower index, and indices come out ascending', () => {
  // |x| = 2 at indices 1, 3, 5, 6; top-3 must keep 1, 3, 5.
  const src = Float32Array.of(1, -2, 0.5, 2, -1, 2, -2, 0);
  const got = run(src, 8, 3);
  assert.deepEqual(Array.from(got.idx), [1, 3, 5]);
  assert.deepEqual(Array.from(got.val), [-2, 2, 2]);
  // All equal: the first k win (small path and select path).
  const flat = new Float32Array(64).fill(-0.25);
  assert.deepEqual(Array.from(run(flat, 64, 5).idx), [0, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(run(flat, 64, 40).idx), Array.from({ length: 40 }, (_, i) => i));
  // Largest at the end still gets selected, and order is by index, not by magnitude.
  const got2 = run(Float32Array.of(0.1, 0.2, 9, 0.3, -7), 5, 2);
  assert.deepEqual(Array.from(got2.idx), [2, 4]);
  assert.deepEqual(Array.from(got2.val), [9, -7]);
});

test('signed zeros and zeros: -0 and 0 tie, lower index wins', () => {
  const src = Float32Array.of(0, -0, 0, 1);
  const got = run(src, 4, 2);
  assert.deepEqual(Array.from(got.idx), [0, 3]);
});

test('index arrays: Uint8Array up to chunk 256, Uint16Array above', () => {
  assert.ok(topkIndexArray(1, 3) instanceof Uint8Array);
  assert.ok(topkIndexArray(256, 3) instanceof Uint8Array);
  assert.ok(topkIndexArray(257, 3) instanceof Uint16Array);
  assert.ok(topkIndexArray(65536, 3) instanceof Uint16Array);
  assert.equal(topkIndexArray(64, 10).length, 10);
  // The last index of the largest chunk each type serves fits.
  const s8 = new Float32Array(256);
  s8[255] = 5;
  assert.deepEqual(Array.from(run(s8, 256, 1).idx), [255]);
  const s16 = new Float32Array(65536);
  s16[65535] = -5;
  const r16 = run(s16, 65536, 1);
  assert.ok(r16.idx instanceof Uint16Array);
  assert.deepEqual(Array.from(r16.idx), [65535]);
  assert.deepEqual(Array.from(r16.val), [-5]);
  assert.throws(() => topkIndexArray(0, 3), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => topkIndexArray(65537, 3), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => topkIndexArray(64, -1), code('KERNEL_BAD_ARGUMENT'));
});

test('top-k bad arguments', () => {
  const src = new Float32Array(64);
  const idx = new Uint8Array(16);
  const val = new Float32Array(16);
  assert.throws(() => topkChunks(src, 64, 0, new Uint8Array(0), new Float32Array(0)), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => topkChunks(src, 16, 17, idx, val), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => topkChunks(src, 16, 2.5, idx, val), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => topkChunks(src, 16, 4, new Uint16Array(16), val), code('KERNEL_BAD_ARGUMENT')); // wrong type
  assert.throws(() => topkChunks(new Float32Array(600), 300, 1, new Uint8Array(2), new Float32Array(2)), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => topkChunks(src, 24, 4, idx, val), code('KERNEL_BLOCK_SIZE')); // 24 ∤ 64
  assert.throws(() => topkChunks(src, 0, 1, idx, val), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => topkChunks(new Float32Array(65537 * 2), 65537, 1, new Uint16Array(2), new Float32Array(2)), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => topkChunks(src, 16, 4, new Uint8Array(15), val), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => topkChunks(src, 16, 4, idx, new Float32Array(17)), code('KERNEL_LENGTH_MISMATCH'));
});

test('top-k refuses NaN and Infinity anywhere in a chunk, naming the position', () => {
  for (const k of [1, 3, 40, 64]) {
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const pos of [0, 17, 63]) {
        const src = signal(128, 4);
        src[64 + pos] = bad;
        const n = 2 * k;
        assert.throws(
          () => topkChunks(src, 64, k, new Uint8Array(n), new Float32Array(n)),
          (e: unknown) => e instanceof KernelError && e.code === 'KERNEL_NON_FINITE' && e.message.includes(`src[${64 + pos}]`),
          `k=${k} ${bad} at ${pos}`,
        );
      }
    }
  }
});

test('scatter puts each value at chunkBase + idx and zeroes the rest', () => {
  const dst = new Float32Array(8).fill(9);
  scatterChunks(Uint8Array.of(1, 3, 0, 2), Float32Array.of(5, -6, 7, 8), 4, 2, dst);
  assert.deepEqual(Array.from(dst), [0, 5, 0, -6, 7, 0, 8, 0]);
});

test('scatter inverts top-k on the selected positions', () => {
  const src = signal(64 * 10, 21);
  const { idx, val } = run(src, 64, 8);
  const dense = new Float32Array(src.length);
  scatterChunks(idx, val, 64, 8, dense);
  let nonzero = 0;
  for (let i = 0; i < src.length; i++) {
    if (dense[i] !== 0) {
      nonzero++;
      assert.equal(dense[i], src[i]);
    }
  }
  assert.equal(nonzero, 80);
});

test('k = whole chunk: dct → topk → scatter → inverse gives back the input (residual 0), 1-D and 2-D', () => {
  // 1-D, chunk 64 (generated) and 50 (table).
  for (const c of [64, 50]) {
    const delta = signal(c * 8, c);
    const X = new Float32Array(delta.length);
    dctForward1d(delta, c, X);
    const { idx, val } = run(X, c, c);
    const dense = new Float32Array(X.length);
    scatterChunks(idx, val, c, c, dense);
    assert.deepEqual(dense, X, 'nothing is lost when every coefficient is kept');
    const back = new Float32Array(X.length);
    dctInverse1d(dense, c, back);
    for (let i = 0; i < delta.length; i++) assert.ok(Math.abs(delta[i] - back[i]) < 1e-6, `c=${c} residual at ${i}`);
  }
  // 2-D, 64×128 matrix in 32×64 tiles: top-k over block-major chunks of c1·c2 = 2048.
  const rows = 64;
  const cols = 128;
  const c1 = 32;
  const c2 = 64;
  const delta = signal(rows * cols, 77);
  const X = new Float32Array(delta.length);
  dctForward2d(delta, rows, cols, c1, c2, X);
  const { idx, val } = run(X, c1 * c2, c1 * c2);
  assert.ok(idx instanceof Uint16Array);
  const dense = new Float32Array(X.length);
  scatterChunks(idx, val, c1 * c2, c1 * c2, dense);
  assert.deepEqual(dense, X);
  const back = new Float32Array(X.length);
  dctInverse2d(dense, rows, cols, c1, c2, back);
  for (let i = 0; i < delta.length; i++) assert.ok(Math.abs(delta[i] - back[i]) < 1e-6, `2-D residual at ${i}`);
});

test('DeMo decode: two workers sending 1 and 3 at one index → 2; a single sender with 1 → 1', () => {
  const chunk = 4;
  const k = 1;
  const sum = new Float32Array(8);
  const count = new Uint16Array(8);
  // Worker A: chunk 0 index 2 = 1, chunk 1 index 0 = 1. Worker B: chunk 0 index 2 = 3, chunk 1 index 3 = 5.
  accumulateChunks(Uint8Array.of(2, 0), Float32Array.of(1, 1), chunk, k, sum, count);
  accumulateChunks(Uint8Array.of(2, 3), Float32Array.of(3, 5), chunk, k, sum, count);
  assert.deepEqual(Array.from(count), [0, 0, 2, 0, 1, 0, 0, 1]);
  const out = new Float32Array(8);
  meanOfSelected(sum, count, out);
  assert.deepEqual(Array.from(out), [0, 0, 2, 0, 1, 0, 0, 5]);
  // Not divided by the worker count: a lone sender keeps its value.
  assert.equal(out[4], 1);
  // In place over sum, with a Uint32 counter.
  const sum2 = Float32Array.of(6, 0, -3);
  meanOfSelected(sum2, Uint32Array.of(3, 0, 1), sum2);
  assert.deepEqual(Array.from(sum2), [2, 0, -3]);
});

test('decoding a full top-k round from W workers equals the mean over selectors, by brute force', () => {
  const chunk = 64;
  const k = 8;
  const W = 5;
  const n = chunk * 12;
  const sum = new Float32Array(n);
  const count = new Uint16Array(n);
  const refSum = new Float64Array(n);
  const refCount = new Uint32Array(n);
  for (let w = 0; w < W; w++) {
    const X = tied(n, 100 + w);
    const { idx, val } = run(X, chunk, k);
    accumulateChunks(idx, val, chunk, k, sum, count);
    for (let j = 0; j < idx.length; j++) {
      const p = Math.floor(j / k) * chunk + idx[j];
      refSum[p] += val[j];
      refCount[p]++;
    }
  }
  const out = new Float32Array(n);
  meanOfSelected(sum, count, out);
  for (let i = 0; i < n; i++) {
    assert.equal(count[i], refCount[i]);
    const want = refCount[i] > 0 ? refSum[i] / refCount[i] : 0;
    assert.ok(Math.abs(out[i] - want) < 1e-6, `position ${i}`);
  }
});

test('scatter/accumulate reject bad lists from the network and leave outputs untouched', () => {
  const chunk = 4;
  const k = 2;
  const fresh = () => ({ dst: new Float32Array(8).fill(9), sum: new Float32Array(8).fill(1), count: new Uint16Array(8).fill(1) });
  const bad: [Uint8Array | Uint16Array, Float32Array, string, RegExp][] = [
    [Uint8Array.of(0, 1, 2, 4), Float32Array.of(1, 1, 1, 1), 'KERNEL_BAD_ARGUMENT', /idx\[3\] is 4/],
    [Uint8Array.of(0, 1, 3, 3), Float32Array.of(1, 1, 1, 1), 'KERNEL_BAD_ARGUMENT', /idx\[3\] repeats index 3/],
    [Uint8Array.of(0, 1, 2, 3), Float32Array.of(1, NaN, 1, 1), 'KERNEL_NON_FINITE', /val\[1\]/],
    [Uint8Array.of(0, 1, 2, 3), Float32Array.of(1, 1, -Infinity, 1), 'KERNEL_NON_FINITE', /val\[2\]/],
  ];
  for (const [idx, val, c, msg] of bad) {
    const b = fresh();
    assert.throws(() => scatterChunks(idx, val, chunk, k, b.dst), (e: unknown) => e instanceof KernelError && e.code === c && msg.test(e.message));
    assert.deepEqual(Array.from(b.dst), new Array(8).fill(9), 'dst untouched');
    assert.throws(() => accumulateChunks(idx, val, chunk, k, b.sum, b.count), (e: unknown) => e instanceof KernelError && e.code === c && msg.test(e.message));
    assert.deepEqual(Array.from(b.sum), new Array(8).fill(1), 'sum untouched');
    assert.deepEqual(Array.from(b.count), new Array(8).fill(1), 'count untouched');
  }
  // The same index in different chunks is not a duplicate.
  const ok = fresh();
  scatterChunks(Uint8Array.of(1, 2, 1, 2), Float32Array.of(1, 2, 3, 4), chunk, k, ok.dst);
  assert.deepEqual(Array.from(ok.dst), [0, 1, 2, 0, 0, 3, 4, 0]);
  // Duplicate detection does not leak between calls.
  scatterChunks(Uint8Array.of(1, 2, 1, 2), Float32Array.of(1, 2, 3, 4), chunk, k, ok.dst);
});

test('accumulate refuses to overflow a counter', () => {
  const sum = new Float32Array(4);
  const count = Uint16Array.of(0, 65535, 0, 0);
  assert.throws(() => accumulateChunks(Uint8Array.of(1), Float32Array.of(1), 4, 1, sum, count), code('KERNEL_BAD_ARGUMENT'));
  assert.equal(count[1], 65535);
  const wide = Uint32Array.of(0, 65535, 0, 0);
  accumulateChunks(Uint8Array.of(1), Float32Array.of(1), 4, 1, sum, wide);
  assert.equal(wide[1], 65536);
});

test('scatter/accumulate/mean shape errors', () => {
  const idx = new Uint8Array(4);
  const val = new Float32Array(4);
  assert.throws(() => scatterChunks(idx, val, 3, 2, new Float32Array(8)), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => scatterChunks(idx, val, 4, 5, new Float32Array(8)), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => scatterChunks(idx, val, 4, 0, new Float32Array(8)), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => scatterChunks(new Uint16Array(4), val, 4, 2, new Float32Array(8)), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => scatterChunks(idx, val, 4, 2, new Float32Array(12)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => scatterChunks(idx, new Float32Array(3), 4, 2, new Float32Array(8)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => accumulateChunks(idx, val, 4, 2, new Float32Array(8), new Uint16Array(7)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => accumulateChunks(idx, val, 4, 2, new Float32Array(12), new Uint16Array(12)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => meanOfSelected(new Float32Array(4), new Uint16Array(3), new Float32Array(4)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => meanOfSelected(new Float32Array(4), new Uint16Array(4), new Float32Array(5)), code('KERNEL_LENGTH_MISMATCH'));
});
