import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
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

/** An identity as bytes (libp2p's protobuf encoding), for a page to keep in its storage. */
export function identityToBytes(key: PrivateKey): Uint8Array {
  return privateKeyToProtobuf(key);
}

export function identityFromBytes(bytes: Uint8Array): PrivateKey {
  return privateKeyFromProtobuf(bytes);
}
