import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet, encodeUpdate, fullSlice } from '@fednode/core';
import { multiaddr } from '@multiformats/multiaddr';
import { NetError, createHost, hostAddr, networkKeyOf, pushUpdate, serveUpdates } from '../src/net/index.js';
import { withHosts } from './net-helpers.js';

const KEY = networkKeyOf('private-network-test-key-0123456789', 'run-net');

/**
 * A run's private network: hosts with the same key connect and move a large update intact;
 * a host with another key, or none, never completes a connection.
 */
test('private network: a 48 MiB update arrives intact between members; other keys and no key cannot connect', async () => {
  await withHosts(
    2,
    async ([a, b]) => {
      let received: Float32Array | null = null;
      await serveUpdates(b, { timeoutMs: 60_000, onUpdate: (u) => ((received = new Float32Array(u.tensors[0].payload.buffer.slice(u.tensors[0].payload.byteOffset, u.tensors[0].payload.byteOffset + u.tensors[0].payload.byteLength))), { version: 7 }) });
      const delta = ParamSet.zeros([{ name: 'w', shape: [12 * 1024 * 1024] }]);
      for (let i = 0; i < delta.data.length; i++) delta.data[i] = Math.sin(i);
      const update = encodeUpdate({ runId: 'run-net', sender: 'a', baseVersion: 0, round: 0, sequence: 0, examples: 1 }, fullSlice(delta.specs), delta, { codec: 'fp32' });
      const ack = await pushUpdate(a, hostAddr(b), update, { timeoutMs: 60_000 });
      assert.equal(ack.version, 7);
      assert.ok(received !== null);
      assert.deepEqual(received, delta.data, 'every byte through the keystream and back');
      for (const other of [await createHost({ networkKey: networkKeyOf('another-key-of-enough-bytes', 'run-net') }), await createHost({ networkKey: networkKeyOf('private-network-test-key-0123456789', 'another-run') }), await createHost()]) {
        try {
          await assert.rejects(other.dial(multiaddr(hostAddr(b)), { signal: AbortSignal.timeout(5000) }));
          assert.equal(b.getConnections(other.peerId).length, 0);
        } finally {
          await other.stop();
        }
      }
      await assert.rejects(createHost({ networkKey: 'not-hex' }), (e: unknown) => e instanceof NetError && e.code === 'NET_CONFIG');
    },
    { networkKey: KEY },
  );
});
