import { ctr } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import type { Keystream } from './crypto.js';

/** Browser side of crypto.ts: the same bytes from @noble's audited JavaScript and the page's getRandomValues. */

export type { Keystream } from './crypto.js';

const BLOCK = 16;
const utf8 = new TextEncoder();

/** The 128-bit big-endian counter block plus n (AES-CTR as OpenSSL counts it). */
function addToCounter(counter: Uint8Array, n: number): void {
  let carry = n;
  for (let i = BLOCK - 1; i >= 0 && carry > 0; i--) {
    const v = counter[i] + (carry % 256);
    counter[i] = v & 0xff;
    carry = Math.floor(carry / 256) + (v >> 8);
  }
}

export function aesCtrKeystream(key: Uint8Array, iv: Uint8Array): Keystream {
  const counter = Uint8Array.from(iv);
  // Keystream bytes of the current block not used yet (the tail of a block a call ended inside).
  let spare: Uint8Array = new Uint8Array(0);
  return {
    update(data) {
      const out = new Uint8Array(data.byteLength);
      let o = 0;
      const take = Math.min(spare.byteLength, data.byteLength);
      for (; o < take; o++) out[o] = data[o] ^ spare[o];
      spare = spare.subarray(take);
      if (o === data.byteLength) return out;
      const blocks = Math.ceil((data.byteLength - o) / BLOCK);
      const stream = ctr(key, counter).encrypt(new Uint8Array(blocks * BLOCK));
      addToCounter(counter, blocks);
      let s = 0;
      for (; o < data.byteLength; o++, s++) out[o] = data[o] ^ stream[s];
      spare = stream.subarray(s);
      return out;
    },
  };
}

export function hkdfSha256(ikm: Uint8Array, salt: string, info: string, bytes: number): Uint8Array {
  return hkdf(nobleSha256, ikm, utf8.encode(salt), utf8.encode(info), bytes);
}

export function hmacSha256(key: Uint8Array, parts: readonly (string | Uint8Array)[]): Uint8Array {
  const h = hmac.create(nobleSha256, key);
  for (const p of parts) h.update(typeof p === 'string' ? utf8.encode(p) : p);
  return h.digest();
}

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

export function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= a[i] ^ b[i];
  return d === 0;
}
