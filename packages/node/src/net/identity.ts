/**
 * A node's identity: an Ed25519 private key, whose public key gives the peer id that the
 * noise handshake proves. Stored as a small JSON file, readable by its owner only.
 */
import { existsSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { NetError } from './errors.js';

const KIND = 'fednode-identity';
const VERSION = 1;

interface IdentityFile {
  kind: typeof KIND;
  version: typeof VERSION;
  /** For humans and as a check: must match the key. */
  peerId: string;
  /** The libp2p protobuf encoding of the private key, base64. */
  privateKey: string;
}

import { generateIdentity, peerIdOf } from './keys.js';

export { generateIdentity, peerIdOf };

/**
 * Writes `key` to `path` with mode 0600, atomically: a reader sees the old file or the whole
 * new one, and the key is never in a file others may read, even for a moment.
 */
export function saveIdentity(path: string, key: PrivateKey): string {
  const peerId = peerIdOf(key);
  const file: IdentityFile = { kind: KIND, version: VERSION, peerId, privateKey: Buffer.from(privateKeyToProtobuf(key)).toString('base64') };
  const bytes = Buffer.from(JSON.stringify(file, null, 2) + '\n');
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (e) {
    throw new NetError('IDENTITY_INVALID', `cannot write identity in ${dir}: ${(e as Error).message}`, { cause: e });
  }
  try {
    chmodSync(tmp, 0o600); // in case the umask or filesystem widened it
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(tmp);
    } catch {
      // never created or already renamed
    }
    throw new NetError('IDENTITY_INVALID', `cannot write identity to ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some filesystems cannot fsync a directory; the file itself is already durable.
  }
  return peerId;
}

/**
 * Reads an identity written by `saveIdentity`. Refuses a file that other users can read (on
 * POSIX systems), a malformed one, and one whose key does not give its recorded peer id.
 */
export function loadIdentity(path: string): PrivateKey {
  let text: string;
  try {
    const st = statSync(path);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new NetError('IDENTITY_PERMISSIONS', `identity ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`);
    }
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof NetError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NetError('IDENTITY_MISSING', `no identity at ${path}; create one with: fednode keygen --out ${path}`, { cause: e });
    }
    throw new NetError('IDENTITY_INVALID', `cannot read identity ${path}: ${(e as Error).message}`, { cause: e });
  }
  const bad = (why: string, cause?: unknown): NetError => new NetError('IDENTITY_INVALID', `identity ${path} is not valid: ${why}`, { cause });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw bad('not JSON', e);
  }
  if (typeof parsed !== 'object' || parsed === null) throw bad('not a JSON object');
  const f = parsed as Partial<Record<keyof IdentityFile, unknown>>;
  if (f.kind !== KIND) throw bad(`"kind" must be "${KIND}"`);
  if (f.version !== VERSION) throw bad(`unsupported version ${String(f.version)}`);
  if (typeof f.privateKey !== 'string' || typeof f.peerId !== 'string') throw bad('"privateKey" and "peerId" must be strings');
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(Buffer.from(f.privateKey, 'base64'));
  } catch (e) {
    throw bad('the private key does not decode', e);
  }
  if (key.type !== 'Ed25519') throw bad(`expected an Ed25519 key, found ${key.type}`);
  const actual = peerIdOf(key);
  if (actual !== f.peerId) throw bad(`the key belongs to ${actual}, the file says ${f.peerId}`);
  return key;
}

/**
 * A node's identity: the key given, the identity file named, or `<dataDir>/identity.json`,
 * created on first start so a restarted node keeps its peer id.
 */
export async function nodeIdentity(key: PrivateKey | string | undefined, dataDir: string): Promise<PrivateKey> {
  if (key !== undefined && typeof key !== 'string') return key;
  if (typeof key === 'string') return loadIdentity(key);
  const path = join(dataDir, 'identity.json');
  if (existsSync(path)) return loadIdentity(path);
  const k = await generateIdentity();
  saveIdentity(path, k);
  return k;
}
