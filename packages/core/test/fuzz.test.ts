import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CoreError,
  DEFAULT_WIRE_LIMITS,
  decodeControl,
  decodeModelRequest,
  decodeModelResponse,
  decodeTensorChunk,
  decodeUpdateAck,
  decodeUpdateTensors,
  encodeControl,
  encodeModelRequest,
  encodeModelResponse,
  encodeUpdateAck,
  updateFromFrames,
  updateToFrames,
  type WireLimits,
} from '../src/index.js';
import { model, sampleUpdate } from './helpers.js';

/** Seeded xorshift so every run fuzzes the same inputs. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const limits: WireLimits = { ...DEFAULT_WIRE_LIMITS, maxMessageBytes: 256 * 1024, maxTensorBytes: 1 << 20, maxTotalBytes: 4 << 20, maxSliceIndices: 4096 };

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const kind = Math.floor(r() * 6);
  const b = src.slice();
  switch (kind) {
    case 0: // truncate
      return b.subarray(0, Math.floor(r() * b.length));
    case 1: // flip bits
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n && b.length; i++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      return b;
    case 2: // overwrite with a huge varint (declared lengths, counts)
      if (b.length > 6) b.set([0xff, 0xff, 0xff, 0xff, 0x0f], Math.floor(r() * (b.length - 5)));
      return b;
    case 3: // random bytes
      return Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256));
    case 4: // splice duplicated region
      return Uint8Array.from([...b, ...b.subarray(Math.floor(r() * b.length))]);
    default: // set a byte to an edge value (NaN halves, 0xff indices)
      if (b.length) b[Math.floor(r() * b.length)] = [0x00, 0x7e, 0x7f, 0xff, 0x80][Math.floor(r() * 5)];
      return b;
  }
}

/** Runs `fn`; it must either succeed or throw a CoreError with a code. Returns whether it was refused. */
function mustRefuseCleanly(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (!(e instanceof CoreError) || typeof e.code !== 'string') {
      throw new Error(`decoder threw a non-CoreError: ${(e as Error)?.stack ?? String(e)}`);
    }
    return true;
  }
}

test('fuzz: 12,000+ random and mutated messages of every type are decoded or refused with a code', () => {
  const r = rng(20261130);
  globalThis.gc?.();
  const memBefore = process.memoryUsage();
  let peakExternal = 0;
  const codes = new Map<string, number>();
  let total = 0;
  let refused = 0;
  const count = (fn: () => unknown) => {
    total++;
    try {
      if (mustRefuseCleanly(fn)) refused++;
    } catch (e) {
      throw e;
    }
  };
  const record = (fn: () => unknown) =>
    count(() => {
      try {
        fn();
      } catch (e) {
        if (e instanceof CoreError) codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        throw e;
      }
    });

  // Updates with every codec: mutate any one frame, then run the whole receive path.
  const updates = (['int8', 'demo', 'fp16', 'auto'] as const).map((c) => updateToFrames(sampleUpdate(c).update, 512));
  for (let i = 0; i < 6000; i++) {
    const frames = updates[i % updates.length].slice();
    const at = Math.floor(r() * frames.length);
    frames[at] = mutate(frames[at], r);
    if (r() < 0.1) frames.splice(Math.floor(r() * frames.length), 1); // a lost frame
    record(() => decodeUpdateTensors(updateFromFrames(frames, limits), model));
    if (i % 500 === 0) peakExternal = Math.max(peakExternal, process.memoryUsage().arrayBuffers - memBefore.arrayBuffers);
  }
  const slice = sampleUpdate().slice;
  const seeds: [string, Uint8Array, (b: Uint8Array) => unknown][] = [
    ['ack', encodeUpdateAck({ accepted: true, code: '', reason: 'ok', version: 3 }), (b) => decodeUpdateAck(b, limits)],
    ['request', encodeModelRequest({ runId: 'r', version: 4, slice, codec: 'fp16' }), (b) => decodeModelRequest(b, limits)],
    [
      'response',
      encodeModelResponse({ runId: 'r', found: true, code: '', reason: '', version: 4, round: 2, slice, tensors: [{ name: 'fc1.bias', shape: [32], params: { codec: 'fp32' }, payloadBytes: 128 }] }),
      (b) => decodeModelResponse(b, limits),
    ],
    ['control', encodeControl({ runId: 'r', body: { kind: 'roundOpen', round: 1, modelVersion: 1, deadlineUnixMs: 5, assignments: [{ peer: 'p', slice }] } }), (b) => decodeControl(b, limits)],
    ['chunk', updates[0][1], (b) => decodeTensorChunk(b, limits)],
  ];
  for (const [, seed, decode] of seeds) {
    for (let i = 0; i < 1200; i++) record(() => decode(i % 7 === 0 ? seed : mutate(seed, r)));
  }
  console.log(`fuzz: ${total} messages, ${refused} refused: ${JSON.stringify(Object.fromEntries(codes))}`);
  assert.ok(total >= 12000, `${total} messages`);
  // Declared lengths up to the limits never turn into allocations: buffers grow with bytes received.
  assert.ok(peakExternal < 64 * 1024 * 1024, `array buffers grew by ${peakExternal} bytes`);
  assert.ok(refused > total / 2, `${refused} of ${total} refused`);
  for (const code of ['WIRE_DECODE', 'WIRE_FIELD', 'WIRE_LENGTH']) assert.ok((codes.get(code) ?? 0) > 0, `saw ${code}`);
});
