import { webSockets } from '@libp2p/websockets';
import { NetError } from './errors.js';

/** Browser side of transports.ts: a page can dial WebSockets only, and has no multicast DNS. */

export function hostTransports(): ReturnType<typeof webSockets>[] {
  return [webSockets()];
}

export function lanDiscovery(): never {
  throw new NetError('NET_CONFIG', 'a browser peer cannot find peers by multicast DNS: give it the run\'s addresses');
}

/** Only WebSocket addresses: a page dialling a peer's TCP address would only fail. */
export function canDial(addr: string): boolean {
  return /\/(ws|wss|tls\/ws)(\/|$)/.test(addr);
}
