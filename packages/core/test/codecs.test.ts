import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CoreError,
  ErrorFeedback,
  ParamSet,
  codecFor,
  demoAccumulate,
  demoFinish,
  payloadBytes,
  resolveCodec,
  type CodecOptions,
  type TensorCodecParams,
} from '../src/index.js';

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof CoreError && e.code === code, `expected ${code}`);
}

/** Deterministic test signal (a small LCG; no dependence on the kernels' generator). */
function signal(n: number, seed = 1, scale = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return a;
}

function roundTrip(x: Float32Array, shape: number[], params: TensorCodecParams): { out: Float32Array; residual: Float32Array; payload: Uint8Array } {
  const codec = codecFor(params);
  const residual = new Float32Array(x.length);
  const payload = codec.encode(x, shape, params, residual);
  assert.equal(payload.byteLength, codec.payloadBytes(shape, params), 'payload size is exactly what payloadBytes says');
  const out = new Float32Array(x.length);
  codec.decode(payload, shape, params, out, 't');
  return { out, residual, payload };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('fp32 is lossless, fp16 and bf16 within their rounding bounds; the residual is exactly what was lost', () => {
  const x = signal(1000, 3, 10);
  assert.deepEqual(roundTrip(x, [1000], { codec: 'fp32' }).out, x);
  for (const [codec, rel] of [['fp16', 2 ** -11], ['bf16', 2 ** -8]] as const) {
    const { out, residual, payload } = roundTrip(x, [10, 100], { codec });
    assert.equal(payload.byteLength, 2000);
    for (let i = 0; i < x.length; i++) {
      assert.ok(Math.abs(out[i] - x[i]) <= Math.abs(x[i]) * rel + 1e-7, `${codec} element ${i}`);
      assert.equal(residual[i], Math.fround(x[i] - out[i]));
    }
  }
});

test('int8: payload is scales then codes; spec 5 linear vector; error at most half a step', () => {
  const params = resolveCodec({ codec: 'int8', blockSize: 32 }, [4]);
  const { payload } = roundTrip(new Float32Array([0.5, -1, 0.25, 2]), [4], params);
  assert.deepEqual([...new Int8Array(payload.buffer, payload.byteOffset + 4, 4)], [32, -64, 16, 127]);
  const x = signal(5000, 7, 3);
  const p = resolveCodec({ codec: 'int8' }, [50, 100]);
  assert.deepEqual(p, { codec: 'int8', blockSize: 256 });
  const { out } = roundTrip(x, [50, 100], p);
  for (let b = 0; b < Math.ceil(x.length / 256); b++) {
    let amax = 0;
    for (let i = b * 256; i < Math.min(x.length, (b + 1) * 256); i++) amax = Math.max(amax, Math.abs(x[i]));
    const step = amax / 127;
    for (let i = b * 256; i < Math.min(x.length, (b + 1) * 256); i++) assert.ok(Math.abs(out[i] - x[i]) <= step / 2 + 1e-6);
  }
  expectCode(() => resolveCodec({ codec: 'int8', blockSize: 16 }, [4]), 'UPDATE_CODEC');
});

test('int4: scales then two codes a byte, half int8\'s payload; error at most half a step; bad codes refused', () => {
  const p = resolveCodec({ codec: 'int4' }, [51, 101]);
  assert.deepEqual(p, { codec: 'int4', blockSize: 256 });
  // 5151 elements: 21 scales of 4 bytes and 2576 bytes of codes, the last high nibble padding.
  assert.equal(payloadBytes([51, 101], p), 21 * 4 + 2576);
  const x = signal(5151, 11, 3);
  const { out, residual, payload } = roundTrip(x, [51, 101], p);
  assert.ok(payload.byteLength < payloadBytes([51, 101], { codec: 'int8', blockSize: 256 }) * 0.52);
  for (let b = 0; b < 21; b++) {
    let amax = 0;
    for (let i = b * 256; i < Math.min(x.length, (b + 1) * 256); i++) amax = Math.max(amax, Math.abs(x[i]));
    for (let i = b * 256; i < Math.min(x.length, (b + 1) * 256); i++) {
      assert.ok(Math.abs(out[i] - x[i]) <= amax / 7 / 2 + 1e-6, `element ${i}`);
      assert.equal(residual[i], Math.fround(x[i] - out[i]));
    }
  }
  const minus8 = payload.slice();
  minus8[84 + 10] = 0x88;
  expectCode(() => codecFor(p).decode(minus8, [51, 101], p, new Float32Array(5151), 't'), 'UPDATE_INDEX');
  const padding = payload.slice();
  padding[padding.length - 1] |= 0xf0;
  expectCode(() => codecFor(p).decode(padding, [51, 101], p, new Float32Array(5151), 't'), 'UPDATE_INDEX');
  const inf = payload.slice();
  new Float32Array(inf.buffer, 0, 21)[3] = Infinity;
  expectCode(() => codecFor(p).decode(inf, [51, 101], p, new Float32Array(5151), 't'), 'UPDATE_NON_FINITE');
  expectCode(() => codecFor(p).encode(new Float32Array([1, NaN]), [2], { codec: 'int4', blockSize: 32 }), 'UPDATE_NON_FINITE');
  expectCode(() => resolveCodec({ codec: 'int4', blockSize: 5000 }, [4]), 'UPDATE_CODEC');
});

test('demo: chunk rule, byte accounting, and exact reconstruction when every coefficient is kept', () => {
  const p = resolveCodec({ codec: 'demo', chunk: 64, topk: 32 }, [768, 100]);
  assert.deepEqual(p, { codec: 'demo', chunkRows: 64, chunkCols: 50, topk: 32, values: 'fp16' });
  // 2-D 64x64 chunks, top-32, fp16 values and u16 indices: 32*(2+2)/4096 bytes per parameter.
  const q = resolveCodec({ codec: 'demo' }, [256, 256]);
  assert.equal(payloadBytes([256, 256], q) / 65536, (32 * 4) / 4096);
  // 1-D, chunk 64, top-4 with 1-bit values: per chunk 4 u8 indices + 4 bits + one fp32 scale.
  const s = resolveCodec({ codec: 'demo', chunk: 64, topk: 4, values: 'sign' }, [1024]);
  assert.equal(payloadBytes([1024], s), 16 * 4 + 16 * 4 + 8);
  const x = signal(48 * 40, 11);
  const all = resolveCodec({ codec: 'demo', chunk: 8, topk: 64 }, [48, 40]);
  assert.equal(all.codec === 'demo' && all.topk, 64);
  const { out, residual } = roundTrip(x, [48, 40], all);
  // fp16 coefficients: the error is fp16 rounding of the coefficients, nothing else.
  assert.ok(maxAbsDiff(out, x) < 4e-3, `max error ${maxAbsDiff(out, x)}`);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(residual[i] - (x[i] - out[i])) < 1e-6);
});

test('demo: top-k keeps the largest DCT coefficients; the residual is what the receiver misses', () => {
  // A pure DCT basis vector per chunk is captured exactly by top-1.
  const c = 16;
  const x = new Float32Array(c * 4);
  for (let b = 0; b < 4; b++) for (let i = 0; i < c; i++) x[b * c + i] = (b + 1) * Math.sqrt(2 / c) * Math.cos((Math.PI * (2 * i + 1) * 3) / (2 * c));
  const p: TensorCodecParams = { codec: 'demo', chunkRows: 1, chunkCols: c, topk: 1, values: 'fp16' };
  const { out, residual, payload } = roundTrip(x, [x.length], p);
  assert.deepEqual([...payload.subarray(8, 12)], [3, 3, 3, 3], 'index 3 selected in every chunk');
  assert.ok(maxAbsDiff(out, x) < 2e-3);
  assert.ok(maxAbsDiff(residual, new Float32Array(x.length)) < 2e-3);
  // Sign values: every kept coefficient becomes ±(mean magnitude of the chunk's kept ones).
  const sp: TensorCodecParams = { codec: 'demo', chunkRows: 1, chunkCols: c, topk: 1, values: 'sign' };
  const r = roundTrip(x, [x.length], sp);
  assert.ok(maxAbsDiff(r.out, x) < 1e-5, 'a single kept coefficient is exact with its own scale');
});

test('demo: mean of the values that selected a coefficient (spec 4)', () => {
  const p: TensorCodecParams = { codec: 'demo', chunkRows: 1, chunkCols: 4, topk: 1, values: 'fp16' };
  const enc = (v: number[]) => codecFor(p).encode(new Float32Array(v), [4], p);
  // Inputs chosen so the DC coefficient (index 0) dominates: X0 = sum / 2 for c = 4.
  const a = enc([0.5, 0.5, 0.5, 0.5]); // X0 = 1
  const b = enc([1.5, 1.5, 1.5, 1.5]); // X0 = 3
  const sum = new Float32Array(4);
  const count = new Uint32Array(4);
  demoAccumulate(a, [4], p, sum, count, 'a');
  demoAccumulate(b, [4], p, sum, count, 'b');
  assert.deepEqual([...count], [2, 0, 0, 0]);
  const out = new Float32Array(4);
  demoFinish(sum, count, [4], p, out);
  for (const v of out) assert.ok(Math.abs(v - 1) < 1e-6, 'coefficient 2 decodes to x = 1'); // X0 = 2 -> 2 * 0.5
  const one = new Float32Array(4);
  const cnt = new Uint32Array(4);
  demoAccumulate(a, [4], p, one, cnt, 'a');
  demoFinish(one, cnt, [4], p, out);
  for (const v of out) assert.ok(Math.abs(v - 0.5) < 1e-6, 'a single sender with value 1 decodes to 1');
});

test('decoders refuse bad payloads: NaN, bad scales, out-of-range or repeated indices', () => {
  const n = 64;
  const fp32 = codecFor({ codec: 'fp32' }).encode(signal(n), [n], { codec: 'fp32' });
  new Float32Array(fp32.buffer)[5] = NaN;
  expectCode(() => codecFor({ codec: 'fp32' }).decode(fp32, [n], { codec: 'fp32' }, new Float32Array(n), 't'), 'UPDATE_NON_FINITE');
  const ip: TensorCodecParams = { codec: 'int8', blockSize: 32 };
  const i8 = codecFor(ip).encode(signal(n), [n], ip);
  new Float32Array(i8.buffer, 0, 2)[1] = Infinity;
  expectCode(() => codecFor(ip).decode(i8, [n], ip, new Float32Array(n), 't'), 'UPDATE_NON_FINITE');
  const dp: TensorCodecParams = { codec: 'demo', chunkRows: 1, chunkCols: 16, topk: 2, values: 'fp16' };
  const good = codecFor(dp).encode(signal(n), [n], dp);
  const kept = 4 * 2;
  const outOfRange = good.slice();
  outOfRange[kept * 2 + 1] = 16;
  expectCode(() => codecFor(dp).decode(outOfRange, [n], dp, new Float32Array(n), 't'), 'UPDATE_INDEX');
  const repeated = good.slice();
  repeated[kept * 2 + 1] = repeated[kept * 2];
  expectCode(() => codecFor(dp).decode(repeated, [n], dp, new Float32Array(n), 't'), 'UPDATE_INDEX');
  const nanValue = good.slice();
  new Uint16Array(nanValue.buffer)[0] = 0x7e00;
  expectCode(() => codecFor(dp).decode(nanValue, [n], dp, new Float32Array(n), 't'), 'UPDATE_NON_FINITE');
  expectCode(() => codecFor({ codec: 'fp32' }).encode(new Float32Array([1, NaN]), [2], { codec: 'fp32' }), 'UPDATE_NON_FINITE');
});

test('auto: 1-D and small tensors dense, large matrices DCT-coded', () => {
  const auto: CodecOptions = { codec: 'auto' };
  assert.equal(resolveCodec(auto, [100000]).codec, 'int8');
  assert.equal(resolveCodec(auto, [10, 10]).codec, 'int8');
  assert.equal(resolveCodec(auto, [128, 128]).codec, 'demo');
  assert.equal(resolveCodec({ codec: 'auto', dense: 'fp16' }, [7]).codec, 'fp16');
});

for (const options of [
  { codec: 'int8', blockSize: 64 },
  { codec: 'int4', blockSize: 64 },
  { codec: 'demo', chunk: 16, topk: 8 },
  { codec: 'demo', chunk: 16, topk: 4, values: 'sign' },
  { codec: 'fp16' },
] as CodecOptions[]) {
  test(`error feedback (${JSON.stringify(options)}): sum sent + residual = sum of deltas; state saves and restores`, () => {
    const specs = [
      { name: 'w', shape: [32, 48] },
      { name: 'b', shape: [48] },
    ];
    const ef = new ErrorFeedback();
    const sentSum = ParamSet.zeros(specs);
    const deltaSum = ParamSet.zeros(specs);
    let restored: ErrorFeedback | null = null;
    for (let t = 0; t < 6; t++) {
      const delta = ParamSet.zeros(specs);
      delta.data.set(signal(delta.size, 100 + t, 0.01 * (t + 1)));
      for (let i = 0; i < delta.size; i++) deltaSum.data[i] += delta.data[i];
      const enc = (restored ?? ef).encode(delta, options);
      if (t === 2) restored = ErrorFeedback.restore(ef.save()); // resume from saved state
      for (const e of enc) {
        const out = new Float32Array(sentSum.tensor(e.name).length);
        codecFor(e.params).decode(e.payload, e.shape, e.params, out, e.name);
        const acc = sentSum.tensor(e.name);
        for (let i = 0; i < out.length; i++) acc[i] += out[i];
      }
    }
    const final = restored!;
    let worst = 0;
    for (const s of specs) {
      const r = final.residual(s.name)!;
      const sent = sentSum.tensor(s.name);
      const want = deltaSum.tensor(s.name);
      for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(sent[i] + r[i] - want[i]));
    }
    assert.ok(worst < 1e-5, `EF invariant off by ${worst}`);
  });
}

test('EncodePool: same payloads and residuals as the single-threaded encoder, on several threads', async () => {
  const { EncodePool } = await import('../src/index.js');
  const specs = [
    { name: 'a', shape: [64, 128] },
    { name: 'b', shape: [128] },
    { name: 'c', shape: [128, 64] },
    { name: 'd', shape: [32, 32] },
  ];
  const options: CodecOptions = { codec: 'auto', chunk: 16, topk: 8 };
  const pool = new EncodePool(2);
  try {
    const serial = new ErrorFeedback();
    const parallel = new ErrorFeedback();
    for (let round = 0; round < 3; round++) {
      const delta = ParamSet.zeros(specs);
      delta.data.set(signal(delta.size, 40 + round, 0.1));
      const a = serial.encode(delta, options);
      const b = await pool.encode(delta, options, parallel);
      assert.deepEqual(b.map((t) => t.name), specs.map((s) => s.name));
      b.forEach((t, i) => {
        assert.deepEqual(t.params, a[i].params);
        assert.deepEqual(t.payload, a[i].payload, `${t.name} payload, round ${round}`);
        assert.deepEqual(parallel.residual(t.name), serial.residual(t.name), `${t.name} residual`);
      });
    }
    const plain = ParamSet.zeros(specs);
    plain.data.set(signal(plain.size, 9));
    const before = plain.data.slice();
    const enc = await pool.encode(plain, { codec: 'int8' });
    assert.deepEqual(plain.data, before, 'the caller keeps its delta');
    assert.equal(enc.length, 4);
    const bad = ParamSet.zeros(specs);
    bad.tensor('a')[3] = NaN;
    await assert.rejects(pool.encode(bad, options), (e: unknown) => e instanceof CoreError && e.code === 'UPDATE_NON_FINITE');
  } finally {
    await pool.close();
  }
});
