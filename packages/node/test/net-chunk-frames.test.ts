import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreError, DEFAULT_WIRE_LIMITS, PayloadAssembler, decodeTensorChunk, encodeTensorChunk, payloadFrames, type EncodedTensor } from '@fednode/core';
import { assembleChunk, chunkHead, payloadChunkFrames } from '../src/net/chunk-frames.js';
import { NetError, encodeLength } from '../src/net/index.js';
import { FrameSplitter, type FramePieces } from '../src/net/frames.js';

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** `bytes` cut at pseudo-random places, as frames arrive in noise messages. */
function cut(bytes: Uint8Array, seed: number, maxPiece = 7): FramePieces {
  const pieces: Uint8Array[] = [];
  let s = seed;
  for (let at = 0; at < bytes.byteLength; ) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const n = 1 + (s % maxPiece);
    pieces.push(bytes.subarray(at, at + n));
    at += n;
  }
  return { pieces, bytes: bytes.byteLength };
}

function tensor(name: string, bytes: number, seed: number): EncodedTensor {
  const payload = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) payload[i] = (i * 31 + seed) & 0xff;
  return { name, shape: [bytes / 4], params: { codec: 'fp32' }, payload };
}

const headers = (ts: readonly EncodedTensor[]) => ts.map((t) => ({ name: t.name, shape: t.shape, params: t.params, payloadBytes: t.payload.byteLength }));

test('chunk frames: the same bytes on the wire as core encodeTensorChunk', () => {
  const cases: [number, number, number][] = [
    [0, 0, 1],
    [0, 0, 3],
    [1, 300, 2],
    [4095, 0xffffffff, 1],
    [127, 128, 200],
    [3, 1 << 20, 70_000],
  ];
  for (const [t, offset, n] of cases) {
    const data = new Uint8Array(n).fill(0xab);
    assert.deepEqual(concat([chunkHead(t, offset, n), data]), encodeTensorChunk({ tensor: t, offset, data }), `tensor ${t} offset ${offset} bytes ${n}`);
  }
  const ts = [tensor('a', 40, 1), tensor('b', 4, 2), tensor('c', 1000, 3)];
  const ours = [...payloadChunkFrames(ts, 64)].map(concat);
  assert.deepEqual(ours, [...payloadFrames(ts, 64)]);
});

test('chunk frames: pieces cut anywhere assemble to the payloads, each chunk checked as core checks it', () => {
  const ts = [tensor('a', 4000, 1), tensor('b', 8, 2), tensor('c', 1200, 3)];
  for (const seed of [1, 2, 3]) {
    const asm = new PayloadAssembler(headers(ts));
    for (const f of payloadFrames(ts, 256)) assembleChunk(asm, cut(f, seed, seed * 9), DEFAULT_WIRE_LIMITS);
    assert.ok(asm.complete);
    assert.deepEqual(asm.payloads(), ts.map((t) => t.payload));
  }
  // Out of order: the assembler's own error, as before.
  const asm = new PayloadAssembler(headers(ts));
  const frames = [...payloadFrames(ts, 256)];
  assert.throws(
    () => assembleChunk(asm, cut(frames[1], 5), DEFAULT_WIRE_LIMITS),
    (e: unknown) => e instanceof CoreError && e.code === 'WIRE_FIELD' && /offset 256, expected 0/.test(e.message),
  );
});

test('chunk frames: other layouts go through core decoder, with its answers and errors', () => {
  const ts = [tensor('a', 4, 1)];
  const data = ts[0].payload;
  // Data first, then the version: valid protobuf that protobufjs does not write.
  const reordered = concat([Uint8Array.of(0x22, 4), data, Uint8Array.of(0x08, 0x01)]);
  assert.deepEqual(decodeTensorChunk(reordered).data, data);
  const asm = new PayloadAssembler(headers(ts));
  assembleChunk(asm, cut(reordered, 7, 3), DEFAULT_WIRE_LIMITS);
  assert.deepEqual(asm.payloads()[0], data);
  // An unknown field before the data is skipped, as protobufjs skips it.
  const unknown = concat([Uint8Array.of(0x08, 0x01, 0x2a, 0x01, 0x00, 0x22, 4), data]);
  const asm2 = new PayloadAssembler(headers(ts));
  assembleChunk(asm2, cut(unknown, 3, 2), DEFAULT_WIRE_LIMITS);
  assert.deepEqual(asm2.payloads()[0], data);
  const refusals: [Uint8Array, string][] = [
    [concat([Uint8Array.of(0x08, 0x02, 0x22, 4), data]), 'WIRE_VERSION'], // another protocol version
    [concat([Uint8Array.of(0x22, 4), data]), 'WIRE_VERSION'], // no version at all
    [Uint8Array.of(0x08, 0x01, 0x22, 0x09, 1, 2), 'WIRE_DECODE'], // data runs past the frame
    [concat([Uint8Array.of(0x08, 0x01, 0x22, 4), data, Uint8Array.of(0xff)]), 'WIRE_DECODE'], // garbage after the data
  ];
  for (const [bytes, code] of refusals) {
    assert.throws(
      () => assembleChunk(new PayloadAssembler(headers(ts)), cut(bytes, 11, 3), DEFAULT_WIRE_LIMITS),
      (e: unknown) => e instanceof CoreError && e.code === code,
      code,
    );
  }
  const small = { ...DEFAULT_WIRE_LIMITS, maxMessageBytes: 5 };
  assert.throws(
    () => assembleChunk(new PayloadAssembler(headers(ts)), cut(encodeTensorChunk({ tensor: 0, offset: 0, data }), 1), small),
    (e: unknown) => e instanceof CoreError && e.code === 'WIRE_LIMIT',
  );
});

test('frame splitter: frames cut anywhere come out whole; a declared length over the limit fails before its bytes are kept', () => {
  const frames = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(300).fill(7), new Uint8Array(70_000).fill(9)];
  const stream = concat(frames.flatMap((f) => [encodeLength(f.byteLength), f]));
  for (const seed of [1, 2, 3]) {
    const got: Uint8Array[] = [];
    const splitter = new FrameSplitter(1 << 20, (pieces, bytes) => {
      assert.equal(pieces.reduce((n, p) => n + p.byteLength, 0), bytes);
      got.push(concat(pieces));
    });
    for (const p of cut(stream, seed, 1 + seed * 40_000).pieces) splitter.push(p);
    assert.deepEqual(got, frames);
    assert.equal(splitter.cutShort(), null);
  }
  const limited = new FrameSplitter(100, () => assert.fail('no frame expected'));
  limited.push(concat([encodeLength(101), new Uint8Array(50)]));
  assert.ok(limited.failure instanceof NetError && limited.failure.code === 'NET_LIMIT');
  assert.equal(limited.partialBytes, 0);
  const long = new FrameSplitter(100, () => undefined);
  long.push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80));
  assert.equal(long.failure?.code, 'NET_PROTOCOL');
  const cutShort = new FrameSplitter(100, () => undefined);
  cutShort.push(Uint8Array.of(10, 1, 2));
  assert.match(cutShort.cutShort() ?? '', /2 of 10 bytes/);
});
