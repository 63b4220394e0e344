import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet, encodeUpdateHeader, type Update, type UpdateHeaderInfo } from '@fednode/core';
import {
  NetError,
  Refused,
  FrameReader,
  UPDATE_PROTOCOL,
  encodeLength,
  expectFrame,
  hostAddr,
  openStream,
  pushUpdate,
  serveUpdates,
  writeFrame,
} from '../src/net/index.js';
import { decodeUpdateAck } from '@fednode/core';
import { sampleModel, sampleUpdate, withHosts } from './net-helpers.js';

interface Received {
  update: Update;
  peer: string;
}

test('update: pushed, acknowledged, and attributed to the authenticated peer', async () => {
  await withHosts(2, async ([server, client]) => {
    const received: Received[] = [];
    await serveUpdates(server, {
      onUpdate: (update, peer) => {
        received.push({ update, peer });
        return { version: 4 };
      },
    });
    const delta = sampleModel(5000);
    const ack = await pushUpdate(client, hostAddr(server), sampleUpdate(delta, { sender: 'someone-else' }), { frameBytes: 4096 });
    assert.deepEqual(ack, { accepted: true, code: '', reason: '', version: 4 });
    assert.equal(received.length, 1);
    assert.equal(received[0].peer, client.peerId.toString());
    assert.equal(received[0].update.sender, 'someone-else'); // kept as claimed, never trusted
    const payload = received[0].update.tensors[0].payload;
    const w = new Float32Array(payload.buffer, payload.byteOffset, payload.byteLength / 4);
    assert.deepEqual(w, delta.tensor('w'));
  });
});

test('update: a header check refuses before any payload is read, with its code', async () => {
  await withHosts(2, async ([server, client]) => {
    let handled = 0;
    await serveUpdates(server, {
      onHeader: (h: UpdateHeaderInfo) => {
        if (h.baseVersion < 5) throw new Refused('WRONG_BASE_VERSION', `base version ${h.baseVersion} is stale`);
      },
      onUpdate: () => {
        handled++;
        return { version: 5 };
      },
    });
    // 8 MiB: the refusal must come back while the client is still sending.
    const update = sampleUpdate(sampleModel(2 << 20), { baseVersion: 3 });
    await assert.rejects(
      pushUpdate(client, hostAddr(server), update),
      (e) => e instanceof NetError && e.code === 'NET_REFUSED' && e.remoteCode === 'WRONG_BASE_VERSION',
    );
    assert.equal(handled, 0);
    // The handler's own refusal after the payload also travels back.
    const ok = await pushUpdate(client, hostAddr(server), sampleUpdate(sampleModel(100), { baseVersion: 5 }));
    assert.equal(ok.version, 5);
  });
});

/** Opens a raw update stream and returns the server's answer to whatever `send` writes. */
async function rawExchange(client: Parameters<typeof openStream>[0], addr: string, send: (s: Awaited<ReturnType<typeof openStream>>['stream']) => Promise<void>): Promise<{ code: string; accepted: boolean }> {
  const { stream } = await openStream(client, addr, UPDATE_PROTOCOL, { timeoutMs: 5000 });
  const reader = new FrameReader(stream, { maxFrameBytes: 65536, timeoutMs: 5000 });
  try {
    await send(stream).catch(() => undefined); // the server may reset while we write
    const ack = decodeUpdateAck(await expectFrame(reader, 'ack'));
    return { code: ack.code, accepted: ack.accepted };
  } finally {
    reader.dispose();
    stream.abort(new Error('test done'));
  }
}

test('update: a malformed header is refused with a code, and the server keeps serving', async () => {
  await withHosts(2, async ([server, client]) => {
    const refused: string[] = [];
    await serveUpdates(server, { onUpdate: () => ({ version: 1 }), onRefused: (_p, code) => refused.push(code) });
    const garbage = await rawExchange(client, hostAddr(server), (s) => writeFrame(s, Uint8Array.of(0xff, 0xff, 0xff, 0x07, 0x01), { timeoutMs: 5000 }));
    assert.equal(garbage.accepted, false);
    assert.equal(garbage.code, 'WIRE_DECODE');
    // A well-formed header with a payload size its codec cannot have.
    const good = sampleUpdate(sampleModel(100));
    const lying: Update = { ...good, tensors: good.tensors.map((t) => ({ ...t, payload: t.payload.subarray(4) })) };
    const wrongLength = await rawExchange(client, hostAddr(server), (s) => writeFrame(s, encodeUpdateHeader(lying), { timeoutMs: 5000 }));
    assert.equal(wrongLength.code, 'WIRE_LENGTH');
    assert.deepEqual(refused, ['WIRE_DECODE', 'WIRE_LENGTH']);
    const ack = await pushUpdate(client, hostAddr(server), good);
    assert.equal(ack.accepted, true);
  });
});

test('update: an oversized declared frame is refused before it is buffered; another client is served after', async () => {
  await withHosts(3, async ([server, attacker, honest]) => {
    await serveUpdates(server, { limits: { ...(await import('@fednode/core')).DEFAULT_WIRE_LIMITS, maxMessageBytes: 1 << 20 }, onUpdate: () => ({ version: 9 }) });
    const r = await rawExchange(attacker, hostAddr(server), async (s) => {
      s.send(encodeLength(1 << 30)); // declares 1 GiB
      s.send(new Uint8Array(64 * 1024)); // and starts sending it
    });
    assert.deepEqual(r, { code: 'NET_LIMIT', accepted: false });
    const ack = await pushUpdate(honest, hostAddr(server), sampleUpdate(sampleModel(1000)));
    assert.equal(ack.version, 9);
  });
});

test('update: a stream that stops mid-update is refused, not accepted', async () => {
  await withHosts(2, async ([server, client]) => {
    const codes: string[] = [];
    await serveUpdates(server, { onUpdate: () => ({ version: 1 }), onRefused: (_p, c) => codes.push(c) });
    const r = await rawExchange(client, hostAddr(server), async (s) => {
      await writeFrame(s, encodeUpdateHeader(sampleUpdate(sampleModel(1000))), { timeoutMs: 5000 });
      await s.close(); // no payload at all
    });
    assert.equal(r.accepted, false);
    assert.equal(r.code, 'NET_PROTOCOL');
  });
});

test('update: 32 MiB pushed through in 1 MiB frames without yamux aborting', async () => {
  await withHosts(2, async ([server, client]) => {
    let got: Update | null = null;
    await serveUpdates(server, {
      onUpdate: async (u) => {
        got = u;
        await new Promise((r) => setTimeout(r, 50)); // a slow handler (e.g. fsync) before the ack
        return { version: 2 };
      },
    });
    const delta = ParamSet.zeros([{ name: 'big', shape: [8 * 1024 * 1024] }]);
    for (let i = 0; i < delta.data.length; i += 997) delta.data[i] = i;
    const ack = await pushUpdate(client, hostAddr(server), sampleUpdate(delta));
    assert.equal(ack.version, 2);
    assert.ok(got !== null);
    const p = (got as Update).tensors[0].payload;
    assert.equal(p.byteLength, 32 * 1024 * 1024);
    const f = new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4);
    assert.equal(f[997 * 1000], 997 * 1000);
  });
});
