import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTH_PROTOCOL, Admission, FrameReader, NetError, encodeLength, hostAddr, pullModel, pushUpdate, serveModels, serveUpdates, type FedHost } from '../src/net/index.js';
import { sampleModel, sampleUpdate, withHosts } from './net-helpers.js';

async function serveBoth(server: FedHost, admission: Admission, seen: string[]): Promise<void> {
  await serveUpdates(server, {
    admission,
    onUpdate: (_u, peer) => {
      seen.push(peer);
      return { version: 1 };
    },
  });
  await serveModels(server, { admission, provide: () => ({ version: 1, round: 0, params: sampleModel(100) }) });
}

const refusedNotAdmitted = (e: unknown): boolean => e instanceof NetError && e.code === 'NET_REFUSED' && e.remoteCode === 'NOT_ADMITTED';

test('admission: the allowlist admits its peers and refuses others with NOT_ADMITTED', async () => {
  await withHosts(3, async ([server, friend, stranger]) => {
    const admission = new Admission(server, { allow: [friend.peerId.toString()] });
    await admission.start();
    const seen: string[] = [];
    await serveBoth(server, admission, seen);
    const update = sampleUpdate(sampleModel(100));
    await assert.rejects(pushUpdate(stranger, hostAddr(server), update), refusedNotAdmitted);
    await assert.rejects(pullModel(stranger, hostAddr(server), { runId: 'run-net', version: 'latest', slice: null, codec: 'fp32' }), refusedNotAdmitted);
    assert.equal((await pushUpdate(friend, hostAddr(server), update)).accepted, true);
    assert.deepEqual(seen, [friend.peerId.toString()]);
  });
});

test('admission: a pre-shared key is proven by challenge-response; a wrong or missing key is refused', async () => {
  await withHosts(4, async ([server, good, wrong, none]) => {
    const key = 'correct horse battery staple';
    const admission = new Admission(server, { psk: key });
    await admission.start();
    const seen: string[] = [];
    await serveBoth(server, admission, seen);
    const update = sampleUpdate(sampleModel(100));

    const goodAdm = new Admission(good, { psk: key });
    await goodAdm.start();
    assert.equal((await pushUpdate(good, hostAddr(server), update, { admission: goodAdm })).accepted, true);
    // The proof holds for the connection: a second request needs no new handshake.
    const m = await pullModel(good, hostAddr(server), { runId: 'run-net', version: 'latest', slice: null, codec: 'fp32' }, { admission: goodAdm });
    assert.equal(m.version, 1);

    const wrongAdm = new Admission(wrong, { psk: 'a different key of some length' });
    await wrongAdm.start();
    await assert.rejects(pushUpdate(wrong, hostAddr(server), update, { admission: wrongAdm }), refusedNotAdmitted);
    // Not proving at all: the protocol itself refuses.
    await assert.rejects(pushUpdate(none, hostAddr(server), update), refusedNotAdmitted);
    assert.deepEqual(seen, [good.peerId.toString()]);
  });
});

test('admission: a client refuses a server that does not know the key', async () => {
  await withHosts(2, async ([impostor, client]) => {
    const fake = new Admission(impostor, { psk: 'the impostor guesses a key' });
    await fake.start();
    await serveUpdates(impostor, { admission: fake, onUpdate: () => ({ version: 1 }) });
    const mine = new Admission(client, { psk: 'the run has this real key' });
    await mine.start();
    // The impostor refuses our proof (it cannot check it), so we never send it the update.
    await assert.rejects(pushUpdate(client, hostAddr(impostor), sampleUpdate(sampleModel(100)), { admission: mine }), refusedNotAdmitted);
  });
});

test('admission: keys shorter than 16 bytes are refused', () => {
  assert.throws(() => new Admission({} as FedHost, { psk: 'short' }), (e) => e instanceof NetError && e.code === 'NET_CONFIG');
});

test('admission: a malformed, oversized or cut-short proof is answered with the refusal byte, like a wrong one', async () => {
  await withHosts(2, async ([server, client]) => {
    const admission = new Admission(server, { psk: 'a-key-of-enough-bytes-0123' });
    await admission.start();
    const { multiaddr } = await import('@multiformats/multiaddr');
    const conn = await client.dial(multiaddr(hostAddr(server)));
    const sends = [
      Buffer.concat([encodeLength(10), Buffer.alloc(10, 1)]), // the wrong size
      Buffer.concat([encodeLength(2 ** 31 - 1), Buffer.alloc(8)]), // a prefix over any limit
      Buffer.concat([encodeLength(64), Buffer.alloc(20, 2)]), // cut short, then closed
    ];
    for (const bytes of sends) {
      const stream = await conn.newStream(AUTH_PROTOCOL);
      const reader = new FrameReader(stream, { maxFrameBytes: 256, timeoutMs: 5000 });
      try {
        assert.equal((await reader.next())?.byteLength, 32, "the server's nonce");
        stream.send(bytes);
        await stream.close().catch(() => undefined);
        assert.deepEqual(Array.from((await reader.next()) ?? []), [1], 'refused, by the refusal byte');
      } finally {
        reader.dispose();
      }
    }
    await admission.stop();
  });
});
