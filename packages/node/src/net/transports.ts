import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { mdns } from '@libp2p/mdns';

/**
 * Platform seam: how a host reaches others. Node hosts dial and listen on TCP and WebSockets
 * (a listen address ending in /ws takes browser peers) and may find peers by multicast DNS; the
 * browser build swaps in transports.browser.ts (WebSockets only, no LAN discovery).
 */

// libp2p's factories take the components libp2p hands them; these are the factories' own types.
type TransportFactory = ReturnType<typeof tcp> | ReturnType<typeof webSockets>;

export function hostTransports(): TransportFactory[] {
  // @libp2p/tcp already sets noDelay; Nagle (noDelay: false) delays the small yamux window
  // updates and made a 64 MiB push ~40% slower in bench/p2p.
  return [tcp(), webSockets()];
}

export function lanDiscovery(): ReturnType<typeof mdns> {
  return mdns();
}


/** Whether a host here can dial `addr` (a peer's heartbeat lists all it listens on): every address in Node. */
export function canDial(_addr: string): boolean {
  return true;
}
