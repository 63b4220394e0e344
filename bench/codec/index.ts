/**
 * Codec benchmarks on a 16.8M-parameter update shaped like a transformer stack: sixteen
 * 1024x1024 matrices and their biases. There is no trained 16M model in the project yet, so
 * the delta is synthetic but gradient-like: rank-8 structure plus 30% noise (seeded).
 */
import { Rng } from '@fednode/kernels';
import { EncodePool, ParamSet, codecFor, resolveCodec, type CodecOptions, type EncodedTensor } from '@fednode/core';
import { againstCopy, againstCopyAsync, round, type Bench, type BenchResult } from '../harness.js';

const LAYERS = 16;
const D = 1024;

let cached: ParamSet | null = null;
function update(): ParamSet {
  if (cached) return cached;
  const specs = Array.from({ length: LAYERS }, (_, l) => [
    { name: `layers.${l}.weight`, shape: [D, D] },
    { name: `layers.${l}.bias`, shape: [D] },
  ]).flat();
  const p = ParamSet.zeros(specs);
  const rng = new Rng(16);
  const rank = 8;
  const u = new Float32Array(D * rank);
  const v = new Float32Array(D * rank);
  for (const s of specs) {
    const t = p.tensor(s.name);
    if (s.shape.length === 1) {
      rng.fillNormal(t, 0, 1e-3);
      continue;
    }
    rng.fillNormal(u, 0, 1);
    rng.fillNormal(v, 0, 1);
    const noise = new Float32Array(D);
    for (let i = 0; i < D; i++) {
      rng.fillNormal(noise, 0, 0.3 * Math.sqrt(rank));
      for (let j = 0; j < D; j++) {
        let acc = 0;
        for (let r = 0; r < rank; r++) acc += u[i * rank + r] * v[j * rank + r];
        t[i * D + j] = (acc + noise[j]) * 1e-3;
      }
    }
  }
  cached = p;
  return p;
}

function encodeAll(p: ParamSet, options: CodecOptions): EncodedTensor[] {
  return p.specs.map((s) => {
    const params = resolveCodec(options, s.shape);
    return { name: s.name, shape: s.shape, params, payload: codecFor(params).encode(p.tensor(s.name), s.shape, params) };
  });
}

function decodeAll(enc: EncodedTensor[], out: ParamSet): void {
  for (const e of enc) codecFor(e.params).decode(e.payload, e.shape, e.params, out.tensor(e.name), e.name);
}

function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return Math.sqrt(num / den);
}

function bytesPerParam(name: string, options: CodecOptions): BenchResult {
  const p = update();
  const enc = encodeAll(p, options);
  const bytes = enc.reduce((n, e) => n + e.payload.byteLength, 0);
  const out = p.zerosLike();
  decodeAll(enc, out);
  const value = bytes / p.size;
  return {
    name,
    value: round(value),
    unit: 'B/param',
    baseline: { name: 'fp32', value: 4, unit: 'B/param' },
    ratio: round(value / 4),
    detail: { params: p.size, bytes, rel_l2_error: round(relL2(out.data, p.data)), compression: round(4 / value) },
  };
}

const INT8: CodecOptions = { codec: 'int8' };
const INT4: CodecOptions = { codec: 'int4' };
const DEMO_FP16: CodecOptions = { codec: 'auto', chunk: 64, topk: 4, values: 'fp16' };
const DEMO_SIGN: CodecOptions = { codec: 'auto', chunk: 64, topk: 4, values: 'sign' };

export const codecBenches: Bench[] = [
  {
    group: 'codec',
    name: 'codec.int8.encode',
    run: () => {
      const p = update();
      return againstCopy('codec.int8.encode', p.size * 4, () => encodeAll(p, INT8), { params: p.size, block: 256 }, 5);
    },
  },
  {
    group: 'codec',
    name: 'codec.int4.encode',
    run: () => {
      const p = update();
      return againstCopy('codec.int4.encode', p.size * 4, () => encodeAll(p, INT4), { params: p.size, block: 256 }, 5);
    },
  },
  {
    group: 'codec',
    name: 'codec.int4.decode',
    run: () => {
      const p = update();
      const enc = encodeAll(p, INT4);
      const out = p.zerosLike();
      return againstCopy('codec.int4.decode', p.size * 4, () => decodeAll(enc, out), { params: p.size, block: 256 }, 5);
    },
  },
  {
    group: 'codec',
    name: 'codec.demo.encode',
    run: async () => {
      // The trainer's path: EncodePool on every core (this thread plus one worker per other core).
      const p = update();
      const pool = new EncodePool();
      try {
        return await againstCopyAsync('codec.demo.encode', p.size * 4, () => pool.encode(p, DEMO_FP16), { params: p.size, chunk: '64x64', topk: 4, values: 'fp16', threads: 'all cores' }, 5);
      } finally {
        await pool.close();
      }
    },
  },
  {
    group: 'codec',
    name: 'codec.demo.encode_1thread',
    run: () => {
      const p = update();
      return againstCopy('codec.demo.encode_1thread', p.size * 4, () => encodeAll(p, DEMO_FP16), { params: p.size, chunk: '64x64', topk: 4, values: 'fp16', threads: 1 }, 5);
    },
  },
  {
    group: 'codec',
    name: 'codec.demo.decode',
    run: () => {
      const p = update();
      const enc = encodeAll(p, DEMO_FP16);
      const out = p.zerosLike();
      return againstCopy('codec.demo.decode', p.size * 4, () => decodeAll(enc, out), { params: p.size, chunk: '64x64', topk: 4, values: 'fp16' }, 5);
    },
  },
  { group: 'codec', name: 'codec.int8.bytes_per_param', run: () => bytesPerParam('codec.int8.bytes_per_param', INT8) },
  { group: 'codec', name: 'codec.int4.bytes_per_param', run: () => bytesPerParam('codec.int4.bytes_per_param', INT4) },
  { group: 'codec', name: 'codec.demo.bytes_per_param', run: () => bytesPerParam('codec.demo.bytes_per_param', DEMO_FP16) },
  { group: 'codec', name: 'codec.demo_sign.bytes_per_param', run: () => bytesPerParam('codec.demo_sign.bytes_per_param', DEMO_SIGN) },
];
