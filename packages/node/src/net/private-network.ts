/**
 * A run's private network: every host of a run that has a pre-shared key derives one network
 * key from it (HKDF-SHA256, bound to the run id), and libp2p's private-network protector
 * (XSalsa20 under noise) lets only hosts with the same key complete a connection. Nobody
 * without the key reaches any protocol or gossip topic, so membership holds across gossip
 * hops: a message can only have been written and relayed by members.
 */
import { hkdfSync } from 'node:crypto';
import { preSharedKey } from '@libp2p/pnet';
import type { ConnectionProtector, ComponentLogger } from '@libp2p/interface';
import { NetError } from './errors.js';

const KEY_BYTES = 32;

/** The run's network key (64 hex characters) from its pre-shared key and run id. */
export function networkKeyOf(psk: string | Uint8Array, runId: string): string {
  const ikm = typeof psk === 'string' ? Buffer.from(psk, 'utf8') : Buffer.from(psk);
  return Buffer.from(hkdfSync('sha256', ikm, 'fednode/pnet/1', runId, KEY_BYTES)).toString('hex');
}

/** libp2p's protector for a network key, in the swarm-key form it reads. */
export function privateNetwork(networkKey: string): (components: { logger: ComponentLogger }) => ConnectionProtector {
  if (!/^[0-9a-f]{64}$/.test(networkKey)) throw new NetError('NET_CONFIG', 'the private-network key must be 64 lowercase hex characters (32 bytes)');
  return preSharedKey({ psk: new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${networkKey}`) });
}
