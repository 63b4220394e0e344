import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CheckpointStore, CoreError, ParamSet, encodeSafetensors, paramSetFromSafetensors, paramSetToSafetensors, parseSafetensors } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures');

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function sample(seed = 1): ParamSet {
  const p = ParamSet.zeros([
    { name: 'fc1.weight', shape: [3, 4] },
    { name: 'fc1.bias', shape: [3] },
    { name: 'fc2.weight', shape: [2, 3] },
  ]);
  for (let i = 0; i < p.size; i++) p.data[i] = Math.sin(seed * 7 + i) * 3;
  return p;
}

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof CoreError && e.code === code);
}

const hasPython = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

test('safetensors: our file has an aligned header, contiguous offsets, and parses back exactly', () => {
  const p = sample();
  const bytes = concat(encodeSafetensors(paramSetToSafetensors(p), { note: 'hello' }));
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0, 'data section starts 8-byte aligned');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header['fc1.weight'], { dtype: 'F32', shape: [3, 4], data_offsets: [0, 48] });
  assert.deepEqual(header['fc1.bias'].data_offsets, [48, 60]);
  assert.equal(header.__metadata__.note, 'hello');
  const back = paramSetFromSafetensors(parseSafetensors(bytes).tensors);
  assert.ok(back.sameLayout(p));
  assert.deepEqual(back.data, p.data);
});

test('safetensors: a file written by an independent writer (numpy) loads with every dtype', () => {
  const file = parseSafetensors(new Uint8Array(readFileSync(join(fixtures, 'tiny.safetensors'))));
  assert.equal(file.metadata.writer, 'numpy-reference');
  const p = paramSetFromSafetensors(file.tensors);
  assert.deepEqual(p.names(), ['layer.1.weight', 'layer.0.bias', 'emb', 'codes']);
  assert.deepEqual([...p.tensor('layer.1.weight')], [-0.5, -0.25, 0, 0.25, 0.5, 0.75]);
  assert.deepEqual([...p.tensor('layer.0.bias')], [1.5, -2, 0.00006103515625, 65504]);
  assert.deepEqual([...p.tensor('emb')], [1, -0.5, 3.140625]);
  assert.deepEqual([...p.tensor('codes')], [-128, 127, 0, -1]);
  assert.deepEqual(p.spec('codes').shape, [2, 2]);
});

test('safetensors: an independent reader (numpy) reads our F32, F16 and BF16 files', { skip: !hasPython && 'python3 with numpy not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-st-'));
  try {
    const p = sample(3);
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const path = join(dir, `${dtype}.safetensors`);
      writeFileSync(path, concat(encodeSafetensors(paramSetToSafetensors(p, dtype), { format: 'pt' })));
      const r = spawnSync('python3', [join(fixtures, 'read_safetensors.py'), path, '--aligned'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout);
      const ours = paramSetFromSafetensors(parseSafetensors(new Uint8Array(readFileSync(path))).tensors);
      for (const name of p.names()) {
        assert.equal(got[name].dtype, dtype);
        assert.deepEqual(got[name].shape, [...p.spec(name).shape]);
        assert.deepEqual(got[name].values, [...ours.tensor(name)], `${dtype} ${name}: both readers agree`);
        const tol = dtype === 'F32' ? 0 : dtype === 'F16' ? 3 * 2 ** -11 : 3 * 2 ** -8;
        got[name].values.forEach((v: number, i: number) => assert.ok(Math.abs(v - p.tensor(name)[i]) <= tol * Math.abs(p.tensor(name)[i]) + 1e-12));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors: truncated and corrupt files are refused with a code, never half-loaded', () => {
  const bytes = concat(encodeSafetensors(paramSetToSafetensors(sample())));
  for (const cut of [0, 4, 8, 20, bytes.length - 1]) expectCode(() => parseSafetensors(bytes.subarray(0, cut)), 'CHECKPOINT_TRUNCATED');
  const extra = new Uint8Array(bytes.length + 4);
  extra.set(bytes);
  expectCode(() => parseSafetensors(extra), 'CHECKPOINT_CORRUPT');
  const badJson = bytes.slice();
  badJson[9] = 0x7d; // '}' inside the header
  expectCode(() => parseSafetensors(badJson), 'CHECKPOINT_CORRUPT');
  const huge = bytes.slice();
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  expectCode(() => parseSafetensors(huge), 'CHECKPOINT_CORRUPT');
  const hdr = (h: unknown) => concat(encodeRaw(JSON.stringify(h), 16));
  expectCode(() => parseSafetensors(hdr({ a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } })), 'CHECKPOINT_CORRUPT');
  expectCode(() => parseSafetensors(hdr({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } })), 'CHECKPOINT_CORRUPT');
  expectCode(() => parseSafetensors(hdr({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } })), 'CHECKPOINT_CORRUPT');
  expectCode(() => parseSafetensors(hdr({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, __metadata__: { x: 1 } })), 'CHECKPOINT_CORRUPT');
  expectCode(() => parseSafetensors(hdr([1, 2])), 'CHECKPOINT_CORRUPT');
});

function encodeRaw(json: string, dataBytes: number): Uint8Array[] {
  const h = new TextEncoder().encode(json);
  const head = new Uint8Array(8 + h.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(h.length), true);
  head.set(h, 8);
  return [head, new Uint8Array(dataBytes)];
}

test('checkpoint store: versions, strategy state, LATEST, pruning and verification', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-ckpt-'));
  try {
    const store = new CheckpointStore(dir, { keep: 2 });
    assert.equal(store.latestVersion(), null);
    expectCode(() => store.load(), 'CHECKPOINT_MISSING');
    for (let v = 1; v <= 3; v++) store.save({ runId: 'run-a', version: v, params: sample(v), strategyState: new Uint8Array([v, 1, 2, 3]), extra: { strategy: 'fedavg' } });
    assert.equal(store.latestVersion(), 3);
    assert.deepEqual(store.versions(), [2, 3], 'keep: 2 prunes version 1');
    const c = store.load();
    assert.equal(c.runId, 'run-a');
    assert.equal(c.version, 3);
    assert.deepEqual(c.params.data, sample(3).data);
    assert.deepEqual([...c.strategyState!], [3, 1, 2, 3]);
    assert.equal(c.extra?.strategy, 'fedavg');
    assert.deepEqual(store.load(2).params.data, sample(2).data);
    writeFileSync(store.statePath(3), new Uint8Array([9, 9, 9, 9]));
    expectCode(() => store.load(3), 'CHECKPOINT_CORRUPT');
    writeFileSync(store.statePath(3), new Uint8Array([3, 1, 2]));
    expectCode(() => store.load(3), 'CHECKPOINT_TRUNCATED');
    const t = readFileSync(store.tensorPath(2));
    writeFileSync(store.tensorPath(2), t.subarray(0, t.length - 3));
    expectCode(() => store.load(2), 'CHECKPOINT_TRUNCATED');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoint store: bytes flipped inside a tensor or a truncated latest file are named, and the newest intact version is loaded instead', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-ckpt-damage-'));
  try {
    const store = new CheckpointStore(dir);
    // Large enough that the middle of the file is tensor data, not the header.
    const big = (seed: number) => {
      const p = ParamSet.zeros([{ name: 'w', shape: [64, 64] }]);
      for (let i = 0; i < p.size; i++) p.data[i] = Math.sin(seed * 7 + i);
      return p;
    };
    const a = big(1);
    const b = big(2);
    store.save({ runId: 'r', version: 1, params: a, strategyState: new Uint8Array([1, 2, 3]) });
    store.save({ runId: 'r', version: 2, params: b, strategyState: new Uint8Array([4, 5, 6]) });
    const latest = store.tensorPath(2);
    const good = readFileSync(latest);
    // 100 bytes overwritten in the middle of the tensor data: still a well-formed safetensors file.
    const flipped = Buffer.from(good);
    const mid = Math.floor(flipped.length / 2);
    for (let i = mid; i < mid + 100; i++) flipped[i] ^= 0xa5;
    writeFileSync(latest, flipped);
    assert.throws(() => store.load(2), (e: unknown) => e instanceof CoreError && e.code === 'CHECKPOINT_CORRUPT' && e.message.includes(latest) && /SHA-256/.test(e.message));
    let r = store.loadNewestIntact();
    assert.equal(r.checkpoint?.version, 1, 'fell back to version 1');
    assert.deepEqual(r.checkpoint?.params.data, a.data);
    assert.deepEqual(r.damaged.map((d) => [d.version, d.path]), [[2, latest]]);
    // Truncated: the error names the file, and the fallback is the same.
    writeFileSync(latest, good.subarray(0, good.length - 50));
    assert.throws(() => store.load(2), (e: unknown) => e instanceof CoreError && e.code === 'CHECKPOINT_TRUNCATED' && e.message.startsWith(latest));
    r = store.loadNewestIntact();
    assert.equal(r.checkpoint?.version, 1);
    // Nothing intact: no checkpoint, and every damaged file listed.
    writeFileSync(store.tensorPath(1), Buffer.alloc(10));
    r = store.loadNewestIntact();
    assert.equal(r.checkpoint, null);
    assert.deepEqual(r.damaged.map((d) => d.version), [2, 1]);
    // Intact again: loads as before.
    writeFileSync(latest, good);
    assert.deepEqual(store.load(2).params.data, b.data);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoint store: fp16 storage round-trips within half precision', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-ckpt-'));
  try {
    const store = new CheckpointStore(dir, { dtype: 'F16' });
    const p = sample(5);
    store.save({ runId: 'r', version: 0, params: p });
    const back = store.load(0).params;
    for (let i = 0; i < p.size; i++) assert.ok(Math.abs(back.data[i] - p.data[i]) <= Math.abs(p.data[i]) * 2 ** -11);
    assert.equal(store.load(0).strategyState, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoint store: kill -9 of the writer mid-write leaves the previous checkpoint intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-kill-'));
  try {
    const store = new CheckpointStore(dir);
    const small = ParamSet.zeros([{ name: 'w', shape: [8] }]);
    small.data.fill(1.25);
    store.save({ runId: 'kill', version: 1, params: small, strategyState: new Uint8Array([1]) });
    // A child process writes version 2, 48 MB of tensors (multiple writes), over and over.
    const script = `
      import { CheckpointStore, ParamSet } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
      const store = new CheckpointStore(${JSON.stringify(dir)}, { keep: 0 });
      const p = ParamSet.zeros([{ name: 'a', shape: [4096, 1024] }, { name: 'b', shape: [4096, 1024] }, { name: 'c', shape: [4096, 1024] }]);
      p.data.fill(7);
      process.stdout.write('ready\\n');
      for (;;) store.save({ runId: 'kill', version: 2, params: p, strategyState: new Uint8Array(1 << 20) });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`writer exited early with ${c}`)));
    });
    // Let it get into a write (a 48 MB file takes tens of ms), then kill it without warning.
    await new Promise((r) => setTimeout(r, 15));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const after = new CheckpointStore(dir, { keep: 0 });
    const latest = after.latestVersion();
    assert.ok(latest === 1 || latest === 2, `LATEST is ${latest}`);
    // Whatever LATEST names loads completely and verifies.
    const c = after.load();
    assert.equal(c.version, latest);
    if (latest === 1) assert.deepEqual([...c.params.data], new Array(8).fill(1.25));
    else assert.equal(c.params.tensor('c')[4096 * 1024 - 1], 7);
    assert.deepEqual([...after.load(1).params.data], new Array(8).fill(1.25), 'version 1 is intact');
    // The next save cleans the dead writer's temporary files.
    after.save({ runId: 'kill', version: 3, params: small });
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
    assert.ok(existsSync(after.tensorPath(3)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
