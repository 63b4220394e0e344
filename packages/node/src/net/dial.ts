/** Opening a protocol stream to a peer, with admission proof and clear errors. */
import type { Connection, DialTarget, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import type { FedHost } from './host.js';
import type { Admission } from './admission.js';
import { NetError } from './errors.js';

/** Where to reach a peer: a multiaddr string (with /p2p/<id>), a peer id string, or a libp2p target. */
export type PeerTarget = string | DialTarget;

export function toDialTarget(target: PeerTarget): DialTarget {
  if (typeof target !== 'string') return target;
  try {
    return target.startsWith('/') ? multiaddr(target) : peerIdFromString(target);
  } catch (e) {
    throw new NetError('NET_CONFIG', `"${target}" is neither a multiaddr nor a peer id`, { cause: e });
  }
}

export interface OpenOptions {
  /** Longest wait for the connection, the admission proof and the protocol negotiation, ms. */
  readonly timeoutMs: number;
  /** Proves the run's pre-shared key on the connection first, when the policy has one. */
  readonly admission?: Admission;
}

export async function openStream(host: FedHost, target: PeerTarget, protocol: string, options: OpenOptions): Promise<{ stream: Stream; connection: Connection }> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const where = typeof target === 'string' ? target : target.toString();
  let connection: Connection;
  try {
    connection = await host.dial(toDialTarget(target), { signal });
  } catch (e) {
    if (e instanceof NetError) throw e;
    if (signal.aborted) throw new NetError('NET_TIMEOUT', `could not connect to ${where} within ${options.timeoutMs} ms`, { cause: e });
    throw new NetError('NET_CLOSED', `could not connect to ${where}: ${(e as Error).message}`, { cause: e });
  }
  if (options.admission !== undefined) await options.admission.prove(connection);
  try {
    const stream = await connection.newStream(protocol, { signal });
    return { stream, connection };
  } catch (e) {
    if (signal.aborted) throw new NetError('NET_TIMEOUT', `${where} did not open ${protocol} within ${options.timeoutMs} ms`, { cause: e });
    if ((e as Error).name === 'UnsupportedProtocolError') {
      throw new NetError('NET_REFUSED', `${where} does not serve ${protocol}`, { remoteCode: 'UNSUPPORTED_PROTOCOL', cause: e });
    }
    throw new NetError('NET_CLOSED', `could not open ${protocol} to ${where}: ${(e as Error).message}`, { cause: e });
  }
}
