import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';

/** Identities without files (identity.ts stores them): what a browser peer needs too. */

/** A fresh Ed25519 identity. */
export async function generateIdentity(): Promise<PrivateKey> {
  return generateKeyPair('Ed25519');
}

/** The peer id (base58 string) of an identity. */
export function peerIdOf(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString();
}
