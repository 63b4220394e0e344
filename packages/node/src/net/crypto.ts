import { createCipheriv, createHash, createHmac, hkdfSync, randomBytes as nodeRandomBytes, timingSafeEqual, type Cipher } from 'node:crypto';

/**
 * Platform seam: the cryptography of admission, the private network and the parameter hashes
 * decentralised peers compare. Node uses node:crypto
 * (OpenSSL's AES-CTR is several times faster than any JavaScript one); the browser build swaps
 * in crypto.browser.ts, which computes the same bytes with @noble/ciphers and @noble/hashes.
 */

/** A direction's keystream: each call XORs the next bytes of AES-256-CTR's keystream into a copy of `data`. */
export interface Keystream {
  update(data: Uint8Array): Uint8Array;
}

export function aesCtrKeystream(key: Uint8Array, iv: Uint8Array): Keystream {
  const cipher: Cipher = createCipheriv('aes-256-ctr', key, iv);
  return { update: (data) => cipher.update(data) };
}

export function hkdfSha256(ikm: Uint8Array, salt: string, info: string, bytes: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, bytes));
}

export function hmacSha256(key: Uint8Array, parts: readonly (string | Uint8Array)[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

export function randomBytes(n: number): Uint8Array {
  return nodeRandomBytes(n);
}

/** Constant-time equality of two MACs (false when the lengths differ). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}
