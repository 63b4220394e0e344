import { createHash } from 'node:crypto';
import type { ClientUpdate } from '../types.js';

/**
 * The canonical order of a set of updates: by a digest of each one's contents (slice, example
 * count, delta), the sender only breaking ties between identical contents. Float sums depend
 * on their order; one that follows the contents alone (not arrival times, not peer ids) makes
 * an aggregation reproducible: a resumed aggregator (log replay, then the rest) computes what
 * an uninterrupted one does, and so does a rerun with other identities or other timings.
 */
export function canonicalKey(u: ClientUpdate): string {
  const h = createHash('sha256');
  h.update(`${JSON.stringify(u.resolved.slice)}\0${u.examples}\0`);
  const d = u.delta.data;
  h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  return `${h.digest('hex')}/${u.sender}`;
}

/** Items sorted by their canonical keys (a new array). */
export function byCanonicalKey<T extends { readonly key: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Updates in canonical order: how a strategy that holds its round applies them. */
export function canonicalOrder(updates: readonly ClientUpdate[]): ClientUpdate[] {
  return byCanonicalKey(updates.map((u) => ({ key: canonicalKey(u), u }))).map((x) => x.u);
}
