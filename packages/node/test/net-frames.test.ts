import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, NetError, encodeLength, expectFrame, hostAddr, openStream, writeFrame } from '../src/net/index.js';
import { writeFrames } from '../src/net/frames.js';
import { withHosts } from './net-helpers.js';

const MiB = 1024 * 1024;

test('frames: varint lengths encode like protobuf varints', () => {
  assert.deepEqual([...encodeLength(0)], [0]);
  assert.deepEqual([...encodeLength(127)], [127]);
  assert.deepEqual([...encodeLength(300)], [0xac, 0x02]);
  assert.deepEqual([...encodeLength(0xffffffff)], [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.throws(() => encodeLength(2 ** 32));
});

test('frames: a slow reader pauses the stream, so a fast sender cannot make it buffer everything', async () => {
  await withHosts(2, async ([server, client]) => {
    const frames = 64;
    let maxBuffered = 0;
    let received = 0;
    await server.handle('/fednode-test/slow/1', async (stream) => {
      const reader = new FrameReader(stream, { maxFrameBytes: 2 * MiB, timeoutMs: 10_000, highWaterBytes: 2 * MiB });
      try {
        for (let f = await reader.next(); f !== null; f = await reader.next()) {
          assert.equal(f.byteLength, MiB);
          assert.equal(f[0], received & 0xff);
          received++;
          maxBuffered = Math.max(maxBuffered, reader.bufferedBytes);
          await new Promise((r) => setTimeout(r, 10));
        }
        await writeFrame(stream, Uint8Array.of(received), { timeoutMs: 5000 });
        await stream.close();
      } finally {
        reader.dispose();
      }
    });
    const { stream } = await openStream(client, hostAddr(server), '/fednode-test/slow/1', { timeoutMs: 5000 });
    const reader = new FrameReader(stream, { maxFrameBytes: 16, timeoutMs: 10_000 });
    for (let i = 0; i < frames; i++) {
      const f = new Uint8Array(MiB);
      f[0] = i;
      await writeFrame(stream, f, { timeoutMs: 10_000 });
    }
    await stream.close();
    const answer = await expectFrame(reader, 'answer');
    assert.equal(answer[0], frames);
    // Bounded by the high-water mark plus what the yamux window (16 MiB at most) had already
    // granted; without pausing it reaches most of the 64 MiB sent.
    assert.ok(maxBuffered < 20 * MiB, `buffered up to ${maxBuffered} bytes`);
    reader.dispose();
  });
});

test('frames: a read times out with NET_TIMEOUT and a truncated frame is NET_PROTOCOL', async () => {
  await withHosts(2, async ([server, client]) => {
    const results: string[] = [];
    await server.handle('/fednode-test/cut/1', async (stream) => {
      const reader = new FrameReader(stream, { maxFrameBytes: MiB, timeoutMs: 200 });
      for (let i = 0; i < 2; i++) {
        try {
          await reader.next(i === 0 ? 200 : 5000);
          results.push('frame');
        } catch (e) {
          results.push(e instanceof NetError ? e.code : String(e));
        }
      }
      reader.dispose();
      stream.abort(new Error('done'));
    });
    const { stream } = await openStream(client, hostAddr(server), '/fednode-test/cut/1', { timeoutMs: 5000 });
    for (let i = 0; i < 100 && results.length < 1; i++) await new Promise((r) => setTimeout(r, 20)); // the first read times out
    stream.send(encodeLength(1000));
    stream.send(new Uint8Array(10));
    await stream.close(); // ends inside the frame
    for (let i = 0; i < 100 && results.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(results, ['NET_TIMEOUT', 'NET_PROTOCOL']);
  });
});

test('frames: frames written in batches, whole or as pieces, arrive whole and in order', async () => {
  await withHosts(2, async ([server, client]) => {
    const sizes = [0, 3, 70_000, MiB + 1, 5, 2 * MiB, 1];
    const frames = sizes.map((n, i) => new Uint8Array(n).map((_, j) => (i * 7 + j) & 0xff));
    const got: Uint8Array[] = [];
    await server.handle('/fednode-test/batch/1', async (stream) => {
      const reader = new FrameReader(stream, { maxFrameBytes: 4 * MiB, timeoutMs: 10_000 });
      for (let f = await reader.next(); f !== null; f = await reader.next()) got.push(new Uint8Array(f));
      reader.dispose();
      await writeFrame(stream, Uint8Array.of(got.length), { timeoutMs: 5000 });
      await stream.close();
    });
    const { stream } = await openStream(client, hostAddr(server), '/fednode-test/batch/1', { timeoutMs: 5000 });
    const reader = new FrameReader(stream, { maxFrameBytes: 16, timeoutMs: 10_000 });
    // Odd frames go as two pieces, split in the middle.
    const asWritten = frames.map((f, i) => (i % 2 === 1 ? [f.subarray(0, f.byteLength >> 1), f.subarray(f.byteLength >> 1)] : f));
    await writeFrames(stream, asWritten, { timeoutMs: 10_000, batchBytes: MiB });
    await stream.close();
    assert.equal((await expectFrame(reader, 'answer'))[0], frames.length);
    assert.deepEqual(got, frames);
    reader.dispose();
  });
});
