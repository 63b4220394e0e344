/**
 * The libp2p host every fednode process runs: TCP and WebSockets (transports.ts), noise, yamux,
 * identify, ping and gossipsub, with connection limits suited to many peers on one machine.
 */
import './polyfill.js';
import { createLibp2p, type Libp2pOptions } from 'libp2p';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import { ping, type Ping } from '@libp2p/ping';
import { gossipsub, type GossipSub, type GossipsubOpts } from '@libp2p/gossipsub';
import { createTopicScoreParams } from '@libp2p/gossipsub/score';
import { bootstrap } from '@libp2p/bootstrap';
import { multiaddr } from '@multiformats/multiaddr';
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { privateNetwork } from './private-network.js';
import { generateIdentity } from './keys.js';
import { hostTransports, lanDiscovery } from './transports.js';
import { NetError } from './errors.js';

// A type alias, not an interface: libp2p's ServiceMap needs an index signature.
export type HostServices = {
  identify: Identify;
  ping: Ping;
  pubsub: GossipSub;
};

/** A started fednode libp2p host. */
export type FedHost = Libp2p<HostServices>;

export interface HostOptions {
  /** The node's identity; a fresh Ed25519 key when absent (tests, throwaway peers). */
  readonly privateKey?: PrivateKey;
  /** Multiaddrs to listen on (default one free port on 127.0.0.1). */
  readonly listen?: readonly string[];
  /** Multiaddrs (with /p2p/<id>) of peers to dial at start. */
  readonly bootstrap?: readonly string[];
  /** Find peers on the LAN by multicast DNS. */
  readonly mdns?: boolean;
  /** Most open connections (default 512). */
  readonly maxConnections?: number;
  /** Inbound connections accepted per second from one host (default 10 000; libp2p's 5 resets local meshes). */
  readonly inboundPerSecond?: number;
  /** Inbound connections still in their handshake at once (default 512; libp2p's is 10). */
  readonly maxPendingInbound?: number;
  /**
   * yamux per-stream receive window, bytes (default 256 KiB, the yamux spec's initial window,
   * growing to `maxStreamWindowBytes`). js-yamux assumes the remote starts with this same
   * window, so every peer of a run must use the same value: raise it only for fednode-only
   * networks.
   */
  readonly initialStreamWindowBytes?: number;
  /** Largest yamux receive window a stream grows to (default 16 MiB). */
  readonly maxStreamWindowBytes?: number;
  /** Dial timeout, ms (default 10 s). */
  readonly dialTimeoutMs?: number;
  /**
   * The run's private-network key (`networkKeyOf`, 64 hex characters): only hosts with the same
   * key can connect at all. Absent: an open network (admission then works per protocol).
   */
  readonly networkKey?: string;
  /** Peer ids that may connect, in either direction (the node's own allowlist); absent: any. */
  readonly allowPeers?: readonly string[];
  /**
   * The run's gossip topics. A peer whose messages there our validators reject (malformed,
   * over a bound: what no honest peer sends) soon has its gossip ignored unread, so a member
   * that floods cannot make us spend our time validating its messages.
   */
  readonly gossipTopics?: readonly string[];
}

/**
 * gossipsub's peer score, used for one thing: invalid messages (P4). Nine rejected messages
 * take a peer to -81, under the graylist threshold (-80), and gossipsub then drops its RPCs
 * before reading them; the count halves each second, so a peer that stops recovers. Honest
 * peers never send what we reject (relays forward only what they accepted), and every other
 * term is off: on one machine all peers share an IP (P6 would graylist the 11th), and delivery
 * counts (P2, P3) reward gossip patterns that a training run has no reason to follow.
 */
function peerScore(topics: readonly string[]): Pick<GossipsubOpts, 'scoreParams' | 'scoreThresholds'> {
  const topic = createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -1,
    invalidMessageDeliveriesDecay: 0.5,
  });
  return {
    scoreParams: { IPColocationFactorWeight: 0, topics: Object.fromEntries(topics.map((t) => [t, topic])) },
    scoreThresholds: { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80 },
  };
}

const YAMUX_SPEC_WINDOW = 256 * 1024;

/** Creates and starts a host. Stop it with `host.stop()`. */
export async function createHost(options: HostOptions = {}): Promise<FedHost> {
  const privateKey = options.privateKey ?? (await generateIdentity());
  const listen = [...(options.listen ?? ['/ip4/127.0.0.1/tcp/0'])];
  for (const a of [...listen, ...(options.bootstrap ?? [])]) checkAddr(a);
  const initialWindow = options.initialStreamWindowBytes ?? YAMUX_SPEC_WINDOW;
  const maxWindow = Math.max(initialWindow, options.maxStreamWindowBytes ?? 16 * 1024 * 1024);
  const peerDiscovery: NonNullable<Libp2pOptions<HostServices>['peerDiscovery']> = [];
  if (options.bootstrap !== undefined && options.bootstrap.length > 0) {
    peerDiscovery.push(bootstrap({ list: [...options.bootstrap], timeout: 0 }));
  }
  if (options.mdns === true) peerDiscovery.push(lanDiscovery());
  const allow = options.allowPeers === undefined || options.allowPeers.length === 0 ? null : new Set(options.allowPeers);
  const config: Libp2pOptions<HostServices> = {
    privateKey,
    addresses: { listen },
    transports: hostTransports(),
    connectionEncrypters: [noise()],
    streamMuxers: [
      yamux({
        // Keep-alive pings are also how js-yamux measures the connection's RTT, and it grows a
        // stream's receive window past the initial 256 KiB only once it knows the RTT: without
        // them a 64 MiB push costs the receiver ~30% more CPU and the sender twice as much
        // (bench/p2p). Never turn them off.
        enableKeepAlive: true,
        streamOptions: {
          initialStreamWindowSize: initialWindow,
          maxStreamWindowSize: maxWindow,
          // A paused stream (our frame reader pausing a fast sender) keeps receiving what
          // the window already granted: the read buffer must hold a whole window.
          maxReadBufferLength: maxWindow + 4 * 1024 * 1024,
        },
      }),
    ],
    ...(options.networkKey === undefined ? {} : { connectionProtector: privateNetwork(options.networkKey) }),
    connectionGater: {
      // libp2p in a browser refuses to dial private and loopback addresses by default; a run's
      // addresses are whatever its document says (a LAN, 127.0.0.1 in tests), so dial them all.
      denyDialMultiaddr: () => false,
      // An allowlisted run closes every other connection once noise has proven the peer id.
      ...(allow === null ? {} : { denyInboundEncryptedConnection: (p: PeerId) => !allow.has(p.toString()), denyOutboundEncryptedConnection: (p: PeerId) => !allow.has(p.toString()) }),
    },
    peerDiscovery,
    connectionManager: {
      maxConnections: options.maxConnections ?? 512,
      inboundConnectionThreshold: options.inboundPerSecond ?? 10_000,
      maxIncomingPendingConnections: options.maxPendingInbound ?? 512,
      maxParallelDials: 100,
      dialTimeout: options.dialTimeoutMs ?? 10_000,
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // Every message carries its author's signature; unsigned ones are dropped.
        globalSignaturePolicy: 'StrictSign',
        // Heartbeats before anyone subscribed are not an error.
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        ...peerScore(options.gossipTopics ?? []),
      }),
    },
  };
  try {
    return await createLibp2p(config);
  } catch (e) {
    throw new NetError('NET_REFUSED', `cannot start the libp2p host on ${listen.join(', ')}: ${(e as Error).message}`, { cause: e });
  }
}

function checkAddr(a: string): void {
  try {
    multiaddr(a);
  } catch (e) {
    throw new NetError('NET_CONFIG', `"${a}" is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001): ${(e as Error).message}`, { cause: e });
  }
}

/** The host's peer id as a string. */
export function hostPeerId(host: FedHost): string {
  return host.peerId.toString();
}

/** A dialable address of the host (with its /p2p/ id), preferring 127.0.0.1 for local tests. */
export function hostAddr(host: FedHost): string {
  const addrs = host.getMultiaddrs().map((m) => m.toString());
  const local = addrs.find((a) => a.startsWith('/ip4/127.0.0.1/'));
  const a = local ?? addrs[0];
  if (a === undefined) throw new NetError('NET_CLOSED', 'the host listens on no address');
  return a;
}
