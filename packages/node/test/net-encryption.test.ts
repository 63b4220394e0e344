import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHost, hostAddr, pushUpdate, serveUpdates, type FedHost, type HostOptions } from '../src/net/index.js';
import { sampleModel, sampleUpdate } from './net-helpers.js';

/** Starts a server and a client with the given options, pushes one update, and reports. */
async function pushBetween(serverOptions: HostOptions, clientOptions: HostOptions): Promise<{ encryption: string[]; peer: string; clientId: string; serverSeen: string[] }> {
  const hosts: FedHost[] = [];
  try {
    const server = await createHost(serverOptions);
    hosts.push(server);
    const client = await createHost(clientOptions);
    hosts.push(client);
    const peers: string[] = [];
    await serveUpdates(server, {
      onUpdate: (_update, peer) => {
        peers.push(peer);
        return { version: 9 };
      },
    });
    const delta = sampleModel(300_000);
    const ack = await pushUpdate(client, hostAddr(server), sampleUpdate(delta), { frameBytes: 64 * 1024 });
    assert.equal(ack.version, 9);
    return {
      encryption: client.getConnections(server.peerId).map((c) => c.encryption ?? '?'),
      peer: peers[0] ?? '',
      clientId: client.peerId.toString(),
      // The server's view of who connected: the peer id the handshake authenticated.
      serverSeen: server.getConnections().map((c) => c.remotePeer.toString()),
    };
  } finally {
    await Promise.all(hosts.map((h) => Promise.resolve(h.stop()).catch(() => undefined)));
  }
}

const cases: [string, HostOptions, HostOptions, string][] = [
  ['tls to tls uses TLS', { encryption: 'tls' }, { encryption: 'tls' }, '/tls/1.0.0'],
  ['a tls client reaches a noise-only server over noise', {}, { encryption: 'tls' }, '/noise'],
  ['a noise-only client reaches a tls server over noise', { encryption: 'tls' }, {}, '/noise'],
  ['noise to noise (the default) uses noise', {}, {}, '/noise'],
];

for (const [name, serverOptions, clientOptions, expected] of cases) {
  test(`encryption: ${name}; the update is attributed to the authenticated peer`, async () => {
    const r = await pushBetween(serverOptions, clientOptions);
    assert.deepEqual(r.encryption, [expected]);
    assert.equal(r.peer, r.clientId);
    assert.deepEqual(r.serverSeen, [r.clientId]);
  });
}
