import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as nodeCrypto from '../src/net/crypto.js';
import * as browserCrypto from '../src/net/crypto.browser.js';

/**
 * The browser build's cryptography (crypto.browser.ts, @noble) must produce the bytes Node's
 * (node:crypto) does, or a browser peer fails the private network's handshake and admission.
 */

function pieces(total: number, sizes: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0, left = total; left > 0; i++) {
    const n = Math.min(left, sizes[i % sizes.length]);
    out.push(n);
    left -= n;
  }
  return out;
}

test('the browser AES-256-CTR keystream equals node:crypto\'s across calls that end inside a block, and across a counter carry', () => {
  const key = nodeCrypto.randomBytes(32);
  for (const iv of [nodeCrypto.randomBytes(16), Uint8Array.from({ length: 16 }, (_, i) => (i < 8 ? 0 : 0xff))]) {
    const data = nodeCrypto.randomBytes(70_000);
    const a = nodeCrypto.aesCtrKeystream(key, iv);
    const b = browserCrypto.aesCtrKeystream(key, iv);
    let o = 0;
    for (const n of pieces(data.byteLength, [1, 15, 17, 33, 4096, 5, 16, 64_000])) {
      const chunk = data.subarray(o, o + n);
      assert.deepEqual(b.update(chunk), new Uint8Array(a.update(chunk)), `bytes ${o}..${o + n}`);
      o += n;
    }
  }
});

test('the browser HKDF-SHA256 and HMAC-SHA256 equal node:crypto\'s; sameBytes compares lengths too', () => {
  const ikm = new TextEncoder().encode('a pre-shared key of the run');
  assert.deepEqual(browserCrypto.hkdfSha256(ikm, 'fednode/pnet/1', 'run-7', 32), nodeCrypto.hkdfSha256(ikm, 'fednode/pnet/1', 'run-7', 32));
  const parts = ['fednode/auth/1 client', nodeCrypto.randomBytes(32), nodeCrypto.randomBytes(7)];
  assert.deepEqual(browserCrypto.hmacSha256(ikm, parts), new Uint8Array(nodeCrypto.hmacSha256(ikm, parts)));
  const x = nodeCrypto.randomBytes(32);
  assert.equal(browserCrypto.sameBytes(x, Uint8Array.from(x)), true);
  assert.equal(browserCrypto.sameBytes(x, x.subarray(1)), false);
  const y = Uint8Array.from(x);
  y[31] ^= 1;
  assert.equal(browserCrypto.sameBytes(x, y), false);
  assert.equal(browserCrypto.randomBytes(16).byteLength, 16);
});

test('the browser SHA-256 equals node:crypto\'s (the parameter hashes decentralised peers compare)', () => {
  // A parameter set's bytes: fp32 in spec order, several hash blocks long, not block-aligned.
  const params = Float32Array.from({ length: 25_450 }, (_, i) => Math.sin(i) * 0.1);
  const bytes = new Uint8Array(params.buffer);
  assert.deepEqual(browserCrypto.sha256(bytes), nodeCrypto.sha256(bytes));
  assert.deepEqual(browserCrypto.sha256(bytes.subarray(3, 1000)), nodeCrypto.sha256(bytes.subarray(3, 1000)));
});
