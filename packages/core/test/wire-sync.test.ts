import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreError, DEFAULT_WIRE_LIMITS, MAX_SYNC_PART_BYTES, decodeControl, decodeSyncPart, encodeControl, encodeSyncParts, encodeUpdate, fullSlice, ParamSet, updateFromSyncParts } from '../src/index.js';

const specs = [
  { name: 'big', shape: [300, 100] },
  { name: 'bias', shape: [100] },
];

function update(step: number) {
  const delta = ParamSet.zeros(specs);
  for (let i = 0; i < delta.data.length; i++) delta.data[i] = Math.sin(i);
  return encodeUpdate({ runId: 'r', sender: 'me', baseVersion: step, round: step, sequence: step, examples: 1 }, fullSlice(specs), delta, { codec: 'fp32' });
}

test('a contribution travels as gossip parts under the size limit and reassembles to the same update', () => {
  const u = update(7);
  const parts = encodeSyncParts(u, 7);
  assert.ok(parts.length > 2, `${parts.length} parts for 120 KB`);
  for (const p of parts) assert.ok(p.byteLength <= MAX_SYNC_PART_BYTES);
  const decoded = parts.map((p) => decodeSyncPart(p));
  assert.ok(decoded.every((d, i) => d.step === 7 && d.part === i && d.parts === parts.length && d.runId === 'r'));
  const back = updateFromSyncParts(decoded);
  assert.equal(back.round, 7);
  assert.deepEqual(back.tensors.map((t) => t.name), ['big', 'bias']);
  assert.deepEqual(back.tensors[0].payload, u.tensors[0].payload);
});

test('bad parts are refused with a code: garbage, out-of-range part numbers, missing or reordered parts', () => {
  const parts = encodeSyncParts(update(1), 1).map((p) => decodeSyncPart(p));
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof CoreError, String(e));
      return e.code;
    }
    return 'accepted';
  };
  assert.equal(code(() => decodeSyncPart(Uint8Array.of(0xff, 0xff, 0xff))), 'WIRE_DECODE');
  assert.equal(code(() => decodeSyncPart(new Uint8Array(MAX_SYNC_PART_BYTES + 1))), 'WIRE_LIMIT');
  assert.equal(code(() => updateFromSyncParts(parts.slice(1))), 'WIRE_FIELD');
  assert.equal(code(() => updateFromSyncParts([parts[1], parts[0], ...parts.slice(2)])), 'WIRE_FIELD');
  // More parts than the run's largest update could need.
  const tight = { ...DEFAULT_WIRE_LIMITS, maxTotalBytes: 1024 };
  assert.equal(code(() => decodeSyncPart(encodeSyncParts(update(1), 1)[0], tight)), 'WIRE_FIELD');
});

test('a PeerJoin control message round-trips', () => {
  const c = decodeControl(encodeControl({ runId: 'r', body: { kind: 'peerJoin', step: 42 } }));
  assert.deepEqual(c, { runId: 'r', body: { kind: 'peerJoin', step: 42 } });
});
