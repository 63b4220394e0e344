/**
 * Keeps a decentralised peer connected. Gossip needs only a path through the mesh, but a
 * peer joined through one bootstrap peer loses everyone when that peer dies or its connection
 * drops (a stalled event loop can miss pings). So peers dial each other directly from the
 * addresses in their heartbeats, and redial the bootstrap peers whenever no connection is left.
 */
import { multiaddr } from '@multiformats/multiaddr';
import type { FedHost } from '../net/host.js';
import { canDial } from '../net/transports.js';
import type { Logger } from '../runtime/log.js';

const REDIAL_MS = 5000;

export class PeerLinks {
  private readonly lastDial = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly onDisconnect = (evt: CustomEvent<unknown>): void => this.log.log('info', 'peer.disconnected', { peer: String(evt.detail) });

  constructor(
    private readonly host: FedHost,
    private readonly bootstrap: readonly string[],
    private readonly log: Logger,
  ) {}

  start(): void {
    this.host.addEventListener('peer:disconnect', this.onDisconnect);
    this.timer = setInterval(() => {
      if (this.host.getConnections().length > 0) return;
      for (const a of this.bootstrap) this.dial(a, a);
    }, REDIAL_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.host.removeEventListener('peer:disconnect', this.onDisconnect);
  }

  /** A heartbeat from `peer`: dial it directly when we are not connected to it. */
  heard(peer: string, addrs: readonly string[]): void {
    const usable = addrs.filter(canDial);
    if (usable.length === 0 || this.host.getConnections().some((c) => c.remotePeer.toString() === peer)) return;
    const addr = usable.find((a) => a.includes('/ip4/127.0.0.1/')) ?? usable[0];
    this.dial(peer, addr.includes('/p2p/') ? addr : `${addr}/p2p/${peer}`);
  }

  private dial(key: string, addr: string): void {
    const now = Date.now();
    if (now - (this.lastDial.get(key) ?? 0) < REDIAL_MS) return;
    this.lastDial.set(key, now);
    let ma;
    try {
      ma = multiaddr(addr);
    } catch {
      return;
    }
    void this.host.dial(ma).then(
      () => this.log.log('debug', 'peer.dialed', { addr }),
      (e: Error) => this.log.log('debug', 'peer.dial_failed', { addr, error: e.message }),
    );
  }
}
