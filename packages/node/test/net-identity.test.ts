import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetError, createHost, generateIdentity, loadIdentity, peerIdOf, saveIdentity } from '../src/net/index.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'fednode-id-'));
}

function code(e: unknown): string | undefined {
  return e instanceof NetError ? e.code : undefined;
}

test('identity: save and load round trip, mode 0600, and the host uses it', async () => {
  const dir = tempDir();
  try {
    const key = await generateIdentity();
    const path = join(dir, 'node.key');
    const peerId = saveIdentity(path, key);
    assert.equal(peerId, peerIdOf(key));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const back = loadIdentity(path);
    assert.ok(back.equals(key));
    const host = await createHost({ privateKey: back });
    try {
      assert.equal(host.peerId.toString(), peerId);
    } finally {
      await host.stop();
    }
    // Saving again replaces the file atomically and keeps the mode.
    const other = await generateIdentity();
    saveIdentity(path, other);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(peerIdOf(loadIdentity(path)), peerIdOf(other));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('identity: clear errors for missing, open, malformed and mismatched files', async () => {
  const dir = tempDir();
  try {
    assert.throws(() => loadIdentity(join(dir, 'absent.key')), (e) => code(e) === 'IDENTITY_MISSING' && /fednode keygen/.test((e as Error).message));
    const path = join(dir, 'node.key');
    saveIdentity(path, await generateIdentity());
    chmodSync(path, 0o644);
    assert.throws(() => loadIdentity(path), (e) => code(e) === 'IDENTITY_PERMISSIONS');
    chmodSync(path, 0o600);
    const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const bad = join(dir, 'bad.key');
    for (const [text, why] of [
      ['not json', /not JSON/],
      [JSON.stringify({ ...file, kind: 'other' }), /kind/],
      [JSON.stringify({ ...file, peerId: peerIdOf(await generateIdentity()) }), /belongs to/],
      [JSON.stringify({ ...file, privateKey: 'AAAA' }), /does not decode/],
    ] as const) {
      writeFileSync(bad, text, { mode: 0o600 });
      assert.throws(() => loadIdentity(bad), (e) => code(e) === 'IDENTITY_INVALID' && why.test((e as Error).message));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
