/**
 * Who may take part in a run: an allowlist of peer ids and/or a pre-shared key. Peer ids
 * come from the noise handshake, so they cannot be claimed falsely. A peer proves it knows
 * the key with a challenge-response on `/fednode/auth/1`, bound to both peer ids, so the key
 * never travels and a proof cannot be replayed to another node; the server proves it too.
 * A proof holds for the connection it was made on.
 *
 *   server -> client   Ns (32 random bytes)
 *   client -> server   Nc (32 random bytes) || HMAC(key, "fednode/auth/1 client" || Ns || Nc || ids)
 *   server -> client   0x00 || HMAC(key, "fednode/auth/1 server" || Ns || Nc || ids)   (admitted)
 *                      0x01                                                              (refused)
 *
 * where ids = len(serverId) || serverId || len(clientId) || clientId (UTF-8 peer id strings).
 */
import { hmacSha256, randomBytes, sameBytes } from './crypto.js';
import type { Connection, Stream } from '@libp2p/interface';
import type { FedHost } from './host.js';
import { FrameReader, abortQuietly, expectFrame, writeFrame } from './frames.js';
import { NetError } from './errors.js';

export const AUTH_PROTOCOL = '/fednode/auth/1';

/** The refusal code every protocol answers a peer that is not admitted with. */
export const NOT_ADMITTED = 'NOT_ADMITTED';

const NONCE_BYTES = 32;
const MAC_BYTES = 32;
const MIN_KEY_BYTES = 16;

export interface AdmissionPolicy {
  /** Peer ids allowed to join; absent or empty: any peer id. */
  readonly allow?: readonly string[];
  /** Pre-shared key (a string is taken as UTF-8), at least 16 bytes; absent: no key needed. */
  readonly psk?: Uint8Array | string;
}

export interface AdmissionOptions {
  /** Longest wait for each step of the handshake, ms (default 10 s). */
  readonly timeoutMs?: number;
}

/**
 * Admission for one host, both as a server (who may push and pull) and as a client (proving
 * itself to servers). With both an allowlist and a key, a peer needs both.
 */
export class Admission {
  readonly open: boolean;
  private readonly host: FedHost;
  private readonly allow: ReadonlySet<string> | null;
  private readonly key: Buffer | null;
  private readonly timeoutMs: number;
  /** Connection ids whose remote proved the key to us. */
  private readonly provedToUs = new Set<string>();
  /** Connection ids on which we proved the key (and the remote proved it back). */
  private readonly provedByUs = new Map<string, Promise<void>>();
  private readonly onClose: (evt: CustomEvent<Connection>) => void;
  private started = false;

  constructor(host: FedHost, policy: AdmissionPolicy = {}, options: AdmissionOptions = {}) {
    this.host = host;
    this.allow = policy.allow !== undefined && policy.allow.length > 0 ? new Set(policy.allow) : null;
    if (policy.psk !== undefined) {
      const k = typeof policy.psk === 'string' ? Buffer.from(policy.psk, 'utf8') : Buffer.from(policy.psk);
      if (k.byteLength < MIN_KEY_BYTES) throw new NetError('NET_CONFIG', `the pre-shared key has ${k.byteLength} bytes; use at least ${MIN_KEY_BYTES}`);
      this.key = k;
    } else {
      this.key = null;
    }
    this.open = this.allow === null && this.key === null;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.onClose = (evt) => {
      this.provedToUs.delete(evt.detail.id);
      this.provedByUs.delete(evt.detail.id);
    };
  }

  /** True when this side must prove a key to servers before using them. */
  get needsProof(): boolean {
    return this.key !== null;
  }

  /** Registers the auth protocol (when a key is set). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.host.addEventListener('connection:close', this.onClose);
    if (this.key !== null) {
      await this.host.handle(AUTH_PROTOCOL, (stream, connection) => this.serve(stream, connection), { maxInboundStreams: 4 });
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.host.removeEventListener('connection:close', this.onClose);
    if (this.key !== null) await this.host.unhandle(AUTH_PROTOCOL).catch(() => undefined);
    this.provedToUs.clear();
    this.provedByUs.clear();
  }

  /** Whether the remote of `connection` may use our protocols; when not, why. */
  check(connection: Connection): { admitted: true } | { admitted: false; reason: string } {
    const peer = connection.remotePeer.toString();
    if (this.allow !== null && !this.allow.has(peer)) return { admitted: false, reason: `peer ${peer} is not on the run's allowlist` };
    if (this.key !== null && !this.provedToUs.has(connection.id)) return { admitted: false, reason: `peer ${peer} has not proven the run's pre-shared key` };
    return { admitted: true };
  }

  isAdmitted(connection: Connection): boolean {
    return this.check(connection).admitted;
  }

  /**
   * Client side: proves the key to the remote of `connection` (once per connection) and
   * checks the remote's proof back. Refused: NET_REFUSED with remoteCode NOT_ADMITTED; a
   * remote that cannot prove the key: NOT_ADMITTED.
   */
  prove(connection: Connection): Promise<void> {
    if (this.key === null) return Promise.resolve();
    let p = this.provedByUs.get(connection.id);
    if (p === undefined) {
      p = this.runClient(connection, this.key);
      this.provedByUs.set(connection.id, p);
      p.catch(() => this.provedByUs.delete(connection.id));
    }
    return p;
  }

  private async runClient(connection: Connection, key: Buffer): Promise<void> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let stream: Stream;
    try {
      stream = await connection.newStream(AUTH_PROTOCOL, { signal });
    } catch (e) {
      // A run with an allowlist closes a connection from anyone off it as soon as noise proves who it is.
      if (connection.status !== 'open') throw new NetError('NET_CLOSED', `peer ${connection.remotePeer.toString()} closed the connection (is this node a member of its run?)`, { remoteCode: NOT_ADMITTED, cause: e });
      throw new NetError('NET_REFUSED', `peer ${connection.remotePeer.toString()} does not take ${AUTH_PROTOCOL} (is it in a run with a pre-shared key?): ${(e as Error).message}`, { remoteCode: NOT_ADMITTED, cause: e });
    }
    const reader = new FrameReader(stream, { maxFrameBytes: 256, timeoutMs: this.timeoutMs });
    try {
      const ns = await expectFrame(reader, 'server nonce');
      if (ns.byteLength !== NONCE_BYTES) throw new NetError('NET_PROTOCOL', 'the server nonce has the wrong size');
      const nc = randomBytes(NONCE_BYTES);
      const ids = idsOf(this.host.peerId.toString(), connection.remotePeer.toString(), 'client');
      await writeFrame(stream, Buffer.concat([nc, mac(key, 'client', ns, nc, ids)]), { timeoutMs: this.timeoutMs });
      const answer = await expectFrame(reader, 'auth answer');
      if (answer.byteLength === 1 && answer[0] === 1) {
        throw new NetError('NET_REFUSED', `peer ${connection.remotePeer.toString()} refused our proof of the run's pre-shared key (a different key?)`, { remoteCode: NOT_ADMITTED });
      }
      if (answer.byteLength !== 1 + MAC_BYTES || answer[0] !== 0) throw new NetError('NET_PROTOCOL', 'malformed auth answer');
      const want = mac(key, 'server', ns, nc, ids);
      if (!sameBytes(want, answer.subarray(1))) {
        throw new NetError('NOT_ADMITTED', `peer ${connection.remotePeer.toString()} does not know the run's pre-shared key`);
      }
      await stream.close().catch(() => undefined);
    } catch (e) {
      abortQuietly(stream, e as Error);
      throw e;
    } finally {
      reader.dispose();
    }
  }

  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const key = this.key;
    if (key === null) return;
    const reader = new FrameReader(stream, { maxFrameBytes: 256, timeoutMs: this.timeoutMs });
    try {
      const ns = randomBytes(NONCE_BYTES);
      await writeFrame(stream, ns, { timeoutMs: this.timeoutMs });
      const proof = await expectFrame(reader, 'client proof');
      if (proof.byteLength !== NONCE_BYTES + MAC_BYTES) throw new NetError('NET_PROTOCOL', 'malformed auth proof');
      const nc = proof.subarray(0, NONCE_BYTES);
      const ids = idsOf(this.host.peerId.toString(), connection.remotePeer.toString(), 'server');
      const ok = sameBytes(mac(key, 'client', ns, nc, ids), proof.subarray(NONCE_BYTES));
      if (ok) {
        this.provedToUs.add(connection.id);
        await writeFrame(stream, Buffer.concat([Buffer.of(0), mac(key, 'server', ns, nc, ids)]), { timeoutMs: this.timeoutMs });
      } else {
        await writeFrame(stream, Buffer.of(1), { timeoutMs: this.timeoutMs });
      }
      await stream.close().catch(() => undefined);
    } catch (e) {
      // A malformed, oversized or cut-short proof is refused like a wrong one, when the stream can still say so.
      if (stream.writeStatus === 'writable') await writeFrame(stream, Buffer.of(1), { timeoutMs: this.timeoutMs }).catch(() => undefined);
      abortQuietly(stream, e as Error);
    } finally {
      reader.dispose();
    }
  }
}

/** Both peer ids, length-prefixed, server first; `self` says which one we are. */
function idsOf(self: string, remote: string, role: 'client' | 'server'): Buffer {
  const [server, client] = role === 'client' ? [remote, self] : [self, remote];
  const s = Buffer.from(server, 'utf8');
  const c = Buffer.from(client, 'utf8');
  return Buffer.concat([Buffer.of(s.byteLength), s, Buffer.of(c.byteLength), c]);
}

function mac(key: Buffer, who: 'client' | 'server', ns: Uint8Array, nc: Uint8Array, ids: Buffer): Uint8Array {
  return hmacSha256(key, [`fednode/auth/1 ${who}`, ns, nc, ids]);
}
