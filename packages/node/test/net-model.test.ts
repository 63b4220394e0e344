import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Slice } from '@fednode/core';
import { NetError, hostAddr, pullModel, serveModels } from '../src/net/index.js';
import { sampleModel, withHosts } from './net-helpers.js';

test('model: the whole model and a slice are pulled, fp32 exact and fp16 close', async () => {
  await withHosts(2, async ([server, client]) => {
    const global = sampleModel(20_000);
    const asked: string[] = [];
    await serveModels(server, {
      provide: (req, peer) => {
        asked.push(peer);
        if (req.version !== 'latest' && req.version !== 7) return null;
        return { version: 7, round: 3, params: global };
      },
    });
    const whole = await pullModel(client, hostAddr(server), { runId: 'run-net', version: 'latest', slice: null, codec: 'fp32' });
    assert.equal(whole.version, 7);
    assert.equal(whole.round, 3);
    assert.deepEqual(whole.params.specs, global.specs);
    assert.deepEqual(whole.params.data, global.data);
    assert.deepEqual(asked, [client.peerId.toString()]);

    const rows = global.spec('w').shape[0] - (global.spec('w').shape[0] % 2);
    const slice: Slice = { tensors: [{ name: 'w', axes: [{ kind: 'range', start: 0, end: rows / 2 }, { kind: 'all' }] }] };
    const half = await pullModel(client, hostAddr(server), { runId: 'run-net', version: 7, slice, codec: 'fp16' });
    assert.deepEqual(half.params.specs, [{ name: 'w', shape: [rows / 2, 10] }]);
    const want = global.tensor('w').subarray(0, (rows / 2) * 10);
    const got = half.params.tensor('w');
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-3);
  });
});

test('model: an unknown version and a bad slice are refused with codes', async () => {
  await withHosts(2, async ([server, client]) => {
    const global = sampleModel(1000);
    await serveModels(server, { provide: (req) => (req.version === 1 ? { version: 1, round: 0, params: global } : null) });
    await assert.rejects(
      pullModel(client, hostAddr(server), { runId: 'run-net', version: 2, slice: null, codec: 'fp32' }),
      (e) => e instanceof NetError && e.code === 'NET_REFUSED' && e.remoteCode === 'MODEL_NOT_FOUND',
    );
    const bad: Slice = { tensors: [{ name: 'nope', axes: [{ kind: 'all' }] }] };
    await assert.rejects(
      pullModel(client, hostAddr(server), { runId: 'run-net', version: 1, slice: bad, codec: 'fp32' }),
      (e) => e instanceof NetError && e.remoteCode === 'SLICE_INVALID',
    );
    const ok = await pullModel(client, hostAddr(server), { runId: 'run-net', version: 1, slice: null, codec: 'bf16' });
    assert.equal(ok.params.size, global.size);
  });
});
