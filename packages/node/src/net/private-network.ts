/**
 * A run's private network: every host of a run that has a pre-shared key derives one network
 * key from it (HKDF-SHA256, bound to the run id), and only hosts holding that key complete a
 * connection. Nobody without the key reaches any protocol or gossip topic, so membership holds
 * across gossip hops: a message can only have been written and relayed by members.
 *
 * The protector has libp2p pnet's shape (each side sends a random nonce, then every byte on the
 * wire is XORed with a keystream from the key and the sender's nonce; noise then runs inside,
 * so a host with another key fails the noise handshake). The keystream is AES-256-CTR (crypto.ts:
 * node:crypto in Node, @noble/ciphers in a browser): @libp2p/pnet's WASM XSalsa20 shares one WebAssembly memory between all its
 * streams and broke 64 MiB pushes (the stream closed mid-transfer); AES-CTR in OpenSSL is also
 * several times faster. Only fednode hosts speak it, which is all a run needs.
 */
import { aesCtrKeystream, hkdfSha256, randomBytes, type Keystream } from './crypto.js';
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils';
import type { AbortOptions, ConnectionProtector, ComponentLogger, Logger, MultiaddrConnection } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';
import { NetError } from './errors.js';

const KEY_BYTES = 32;
const NONCE_BYTES = 16;
const HANDSHAKE_TIMEOUT_MS = 5000;

/** The run's network key (64 hex characters) from its pre-shared key and run id. */
export function networkKeyOf(psk: string | Uint8Array, runId: string): string {
  const ikm = typeof psk === 'string' ? new TextEncoder().encode(psk) : psk;
  return Buffer.from(hkdfSha256(ikm, 'fednode/pnet/1', runId, KEY_BYTES)).toString('hex');
}

/** libp2p's connection protector for a network key. */
export function privateNetwork(networkKey: string): (components: { logger: ComponentLogger }) => ConnectionProtector {
  if (!/^[0-9a-f]{64}$/.test(networkKey)) throw new NetError('NET_CONFIG', 'the private-network key must be 64 lowercase hex characters (32 bytes)');
  const key = Buffer.from(networkKey, 'hex');
  return () => new PrivateNetworkProtector(key);
}

class PrivateNetworkProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'fednode/private-network';

  constructor(private readonly key: Buffer) {}

  async protect(connection: MultiaddrConnection, options?: AbortOptions): Promise<MultiaddrConnection> {
    const log = connection.log.newScope('private-network');
    const localNonce = randomBytes(NONCE_BYTES);
    const opts = { signal: options?.signal ?? AbortSignal.timeout(HANDSHAKE_TIMEOUT_MS) };
    const bytes = byteStream(connection);
    let remote: Uint8ArrayList;
    try {
      [remote] = await Promise.all([bytes.read({ bytes: NONCE_BYTES, ...opts }), bytes.write(localNonce, opts)]);
    } catch (e) {
      throw new NetError('NET_TIMEOUT', `the private-network nonce exchange failed (is the remote in this run?): ${(e as Error).message}`, { cause: e });
    }
    const remoteNonce = Buffer.from(remote.subarray());
    log('exchanged nonces');
    return new KeystreamConnection({ maConn: bytes.unwrap(), log, inbound: aesCtrKeystream(this.key, remoteNonce), outbound: aesCtrKeystream(this.key, localNonce) });
  }
}

interface KeystreamInit {
  readonly maConn: MultiaddrConnection;
  readonly log: Logger;
  readonly inbound: Keystream;
  readonly outbound: Keystream;
}

/** The connection with every byte XORed with its direction's AES-CTR keystream. */
class KeystreamConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection;
  private readonly inbound: Keystream;
  private readonly outbound: Keystream;

  constructor(init: KeystreamInit) {
    super({ log: init.log, remoteAddr: init.maConn.remoteAddr, direction: init.maConn.direction });
    this.maConn = init.maConn;
    this.inbound = init.inbound;
    this.outbound = init.outbound;
    this.maConn.addEventListener('message', (evt) => {
      const data = evt.data;
      if (data instanceof Uint8Array) this.onData(this.inbound.update(data));
      else for (const buf of data) this.onData(this.inbound.update(buf));
    });
    this.maConn.addEventListener('drain', () => this.onMuxerDrain());
    this.maConn.addEventListener('close', (evt) => {
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error);
        else this.onRemoteReset();
      } else {
        this.onTransportClosed();
      }
    });
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    await this.maConn.close(options);
  }

  sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean } {
    let canSendMore = true;
    for (const buf of data) canSendMore = this.maConn.send(this.outbound.update(buf));
    return { sentBytes: data.byteLength, canSendMore };
  }

  sendReset(err: Error): void {
    this.maConn.abort(err);
  }

  sendPause(): void {
    this.maConn.pause();
  }

  sendResume(): void {
    this.maConn.resume();
  }
}
