import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CoreError,
  DEFAULT_WIRE_LIMITS,
  ErrorFeedback,
  ParamSet,
  PayloadAssembler,
  decodeControl,
  decodeModelRequest,
  decodeModelResponse,
  decodeTensorChunk,
  decodeUpdateAck,
  decodeUpdateHeader,
  decodeUpdateTensors,
  encodeControl,
  encodeModelRequest,
  encodeModelResponse,
  encodeTensorChunk,
  encodeUpdate,
  encodeUpdateAck,
  encodeUpdateHeader,
  extractSlice,
  fullSlice,
  resolveSlice,
  updateFromFrames,
  updateToFrames,
  type Slice,
  type Update,
} from '../src/index.js';
import { model, sampleUpdate } from './helpers.js';

function expectCode(fn: () => unknown, code: string, field?: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof CoreError && e.code === code && (field === undefined || field.test(e.message)), `expected ${code}`);
}

test('update: frames round-trip, payloads validated and decoded against the model', () => {
  const { update, delta } = sampleUpdate('auto');
  const frames = updateToFrames(update, 1000);
  assert.ok(frames.length > 3, 'payloads split over several frames');
  const back = updateFromFrames(frames);
  assert.equal(back.runId, 'run-1');
  assert.equal(back.baseVersion, 7);
  assert.equal(back.sequence, 41);
  assert.equal(back.examples, 600);
  assert.deepEqual(back.metrics, { loss: 0.25, steps: 10 });
  assert.deepEqual(back.slice, update.slice);
  assert.deepEqual(back.tensors.map((t) => t.params.codec), ['demo', 'int8', 'int8']);
  back.tensors.forEach((t, i) => assert.deepEqual(t.payload, update.tensors[i].payload));
  const { delta: decoded, resolved } = decodeUpdateTensors(back, model);
  assert.equal(resolved.tensors.length, 3);
  assert.deepEqual(decoded.specs, delta.specs);
  for (let i = 0; i < decoded.size; i++) assert.ok(Math.abs(decoded.data[i] - delta.data[i]) < 0.01);
});

test('update: int4 tensors travel with their block size and decode within half a step', () => {
  const { update, delta } = sampleUpdate('int4');
  const back = updateFromFrames(updateToFrames(update, 1000));
  assert.deepEqual(back.tensors.map((t) => t.params), update.tensors.map(() => ({ codec: 'int4', blockSize: 256 })));
  const { delta: decoded } = decodeUpdateTensors(back, model);
  // |delta| <= 0.01, so a step is at most 0.01 / 7.
  for (let i = 0; i < decoded.size; i++) assert.ok(Math.abs(decoded.data[i] - delta.data[i]) <= 0.01 / 14 + 1e-7);
});

test('update header: version, declared lengths and limits are checked before any payload', () => {
  const { update } = sampleUpdate('int8');
  const header = encodeUpdateHeader(update);
  assert.equal(decodeUpdateHeader(header).tensors.length, 3);
  expectCode(() => decodeUpdateHeader(new Uint8Array([0x08, 0x02])), 'WIRE_VERSION', /protocol_version/);
  const lying = { ...update, tensors: update.tensors.map((t, i) => (i === 1 ? { ...t, payload: t.payload.subarray(1) } : t)) };
  expectCode(() => decodeUpdateHeader(encodeUpdateHeader(lying)), 'WIRE_LENGTH', /tensors\[1\]\.payload_bytes/);
  expectCode(() => decodeUpdateHeader(header, { ...DEFAULT_WIRE_LIMITS, maxTensors: 2 }), 'WIRE_LIMIT');
  expectCode(() => decodeUpdateHeader(header, { ...DEFAULT_WIRE_LIMITS, maxMessageBytes: 10 }), 'WIRE_LIMIT');
  expectCode(() => decodeUpdateHeader(header, { ...DEFAULT_WIRE_LIMITS, maxTotalBytes: 100 }), 'WIRE_LIMIT');
  expectCode(() => decodeUpdateHeader(encodeUpdateHeader({ ...update, metrics: { loss: NaN } })), 'UPDATE_NON_FINITE', /metrics\.loss/);
  expectCode(() => decodeUpdateHeader(encodeUpdateHeader({ ...update, runId: '' })), 'WIRE_FIELD', /run_id/);
  expectCode(() => decodeUpdateHeader(header.subarray(0, header.length - 3)), 'WIRE_DECODE');
});

test('payload assembler: in order, no gaps, no overruns, nothing after completion', () => {
  const { update } = sampleUpdate('fp16');
  const h = decodeUpdateHeader(encodeUpdateHeader(update));
  const p0 = update.tensors[0].payload;
  const asm = () => new PayloadAssembler(h.tensors);
  expectCode(() => asm().push({ tensor: 1, offset: 0, data: p0 }), 'WIRE_FIELD', /chunk\.tensor/);
  expectCode(() => asm().push({ tensor: 0, offset: 5, data: p0 }), 'WIRE_FIELD', /chunk\.offset/);
  const over = new Uint8Array(p0.length + 1);
  expectCode(() => asm().push({ tensor: 0, offset: 0, data: over }), 'WIRE_LENGTH');
  const a = asm();
  a.push({ tensor: 0, offset: 0, data: p0.subarray(0, 10) });
  expectCode(() => a.payloads(), 'WIRE_LENGTH');
  const done = asm();
  update.tensors.forEach((t, i) => done.push({ tensor: i, offset: 0, data: t.payload }));
  assert.ok(done.complete);
  expectCode(() => done.push({ tensor: 0, offset: 0, data: p0 }), 'WIRE_LENGTH');
  const chunk = decodeTensorChunk(encodeTensorChunk({ tensor: 2, offset: 9, data: new Uint8Array([1, 2, 3]) }));
  assert.deepEqual({ ...chunk, data: [...chunk.data] }, { tensor: 2, offset: 9, data: [1, 2, 3] });
});

test('update against the model: wrong tensor order, shapes, or slice are refused', () => {
  const { update } = sampleUpdate('int8');
  const swapped = { ...update, tensors: [update.tensors[1], update.tensors[0], update.tensors[2]] };
  expectCode(() => decodeUpdateTensors(swapped, model), 'UPDATE_SHAPE', /tensors\[0\]\.name/);
  expectCode(() => decodeUpdateTensors({ ...update, tensors: update.tensors.slice(0, 2) }, model), 'UPDATE_SHAPE');
  expectCode(() => decodeUpdateTensors({ ...update, slice: fullSlice(model) }, model), 'UPDATE_SHAPE', /shape/);
  expectCode(() => decodeUpdateTensors(update, [{ name: 'fc1.weight', shape: [8, 8] }]), 'SLICE_INVALID');
});

test('ack, model request/response and control messages round-trip and validate', () => {
  const ack = { accepted: false, code: 'STALE', reason: 'base version 3 is 5 behind', version: 8 };
  assert.deepEqual(decodeUpdateAck(encodeUpdateAck(ack)), ack);
  const req = { runId: 'r', version: 'latest' as const, slice: null, codec: 'fp16' as const };
  assert.deepEqual(decodeModelRequest(encodeModelRequest(req)), req);
  const slice: Slice = { tensors: [{ name: 'fc1.bias', axes: [{ kind: 'indices', indices: [5, 1, 3] }] }] };
  const req2 = { runId: 'r', version: 12, slice, codec: 'fp32' as const };
  assert.deepEqual(decodeModelRequest(encodeModelRequest(req2)), req2);
  const resp = {
    runId: 'r', found: true, code: '', reason: '', version: 12, round: 4, slice,
    tensors: [{ name: 'fc1.bias', shape: [3], params: { codec: 'fp32' as const }, payloadBytes: 12 }],
  };
  assert.deepEqual(decodeModelResponse(encodeModelResponse(resp)), resp);
  expectCode(() => decodeModelResponse(encodeModelResponse({ ...resp, tensors: [{ ...resp.tensors[0], payloadBytes: 13 }] })), 'WIRE_LENGTH');
  const open = { runId: 'r', body: { kind: 'roundOpen' as const, round: 5, modelVersion: 12, deadlineUnixMs: 1_764_000_000_000, assignments: [{ peer: 'p1', slice }] } };
  assert.deepEqual(decodeControl(encodeControl(open)), open);
  const ann = { runId: 'r', body: { kind: 'modelAnnounce' as const, version: 12, round: 5, sha256: new Uint8Array(32).fill(7), parameters: 1000 } };
  const annBack = decodeControl(encodeControl(ann));
  assert.equal(annBack.body.kind, 'modelAnnounce');
  const hb = { runId: 'r', body: { kind: 'heartbeat' as const, role: 'trainer', version: 3, step: 9, timeUnixMs: 1_764_000_000_123 } };
  assert.deepEqual(decodeControl(encodeControl(hb)), hb);
  expectCode(() => decodeControl(encodeControl({ runId: 'r', body: { ...ann.body, sha256: new Uint8Array(31) } })), 'WIRE_FIELD', /sha256/);
  const big = { runId: 'r', body: { ...open.body, assignments: [{ peer: 'p', slice: { tensors: [{ name: 'w', axes: [{ kind: 'indices' as const, indices: Array.from({ length: 40000 }, (_, i) => i) }] }] } }] } };
  expectCode(() => encodeControl(big), 'WIRE_LIMIT');
});

test('update ids: full slice of a whole model encodes every tensor', () => {
  const g = ParamSet.zeros(model);
  const u = encodeUpdate({ runId: 'r', sender: 's', baseVersion: 0, round: 0, sequence: 0, examples: 1 }, fullSlice(model), g, { codec: 'fp32' });
  assert.deepEqual(u.tensors.map((t) => t.name), model.map((m) => m.name));
  assert.deepEqual(decodeUpdateTensors(updateFromFrames(updateToFrames(u)), model).delta.data, g.data);
});
