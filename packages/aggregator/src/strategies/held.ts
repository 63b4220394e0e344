import { ParamSet, codecFor, resolveSlice, type EncodedTensor, type ResolvedSlice, type Slice } from '@fednode/core';
import { requireArray, type SavedState } from '../state.js';
import type { ClientUpdate } from '../types.js';
import { byCanonicalKey, canonicalKey } from './canonical.js';

/**
 * One held update. Its delta is kept as the wire tensors it came in when they are at most half
 * its size (int8, DeMo): 32 held MNIST-MLP updates are 6.4 MB as int8 and 25 MB as fp32, and
 * decoding again gives the same bits. Otherwise (fp32, a clipped delta) the delta itself.
 */
interface Held {
  readonly key: string;
  readonly update: Omit<ClientUpdate, 'delta' | 'encoded'>;
  readonly form: { readonly delta: ParamSet } | { readonly encoded: readonly EncodedTensor[] };
  readonly weight: number;
}

function heldBytes(h: Held): number {
  return 'delta' in h.form ? h.form.delta.data.byteLength : payloadBytes(h.form.encoded);
}

function payloadBytes(tensors: readonly EncodedTensor[]): number {
  return tensors.reduce((n, t) => n + t.payload.byteLength, 0);
}

/** How a held update is saved (its delta is the array `held.<i>`). */
export interface HeldJson {
  readonly sender: string;
  readonly round: number;
  readonly baseVersion: number;
  readonly examples: number;
  readonly slice: Slice;
  readonly weight: number;
}

/**
 * Accepted updates held until their round closes, then handed out in canonical order
 * (see canonical.ts), so the round's result does not depend on who arrived first.
 */
export class HeldUpdates {
  private items: Held[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Bytes the held deltas take as held (wire payloads or decoded floats). */
  get bytes(): number {
    return this.items.reduce((n, h) => n + heldBytes(h), 0);
  }

  add(update: ClientUpdate, weight: number): void {
    const { delta, encoded, ...rest } = update;
    // Copies: a payload may be a view into a larger received buffer that would stay alive with it.
    const form = encoded !== undefined && payloadBytes(encoded) <= delta.data.byteLength / 2 ? { encoded: encoded.map((t) => ({ ...t, payload: t.payload.slice() })) } : { delta };
    this.items.push({ key: canonicalKey(update), update: rest, form, weight });
  }

  /**
   * The updates in canonical order, each delta decoded only when its turn comes, into a buffer
   * the next item reuses: a consumer folds each in (or copies it) before asking for the next.
   */
  *inCanonicalOrder(): Generator<{ readonly update: ClientUpdate; readonly weight: number }> {
    // One buffer per slice layout, reused: a decoded delta is valid only until the next item.
    const scratch = new Map<ResolvedSlice, ParamSet>();
    for (const h of byCanonicalKey(this.items)) {
      let out = scratch.get(h.update.resolved);
      if (out === undefined && 'encoded' in h.form) scratch.set(h.update.resolved, (out = ParamSet.zeros(h.update.resolved.localSpecs)));
      yield { update: { ...h.update, delta: deltaOf(h, out) }, weight: h.weight };
    }
  }

  clear(): void {
    this.items = [];
  }

  arrays(): [string, Float32Array][] {
    return this.items.map((h, i) => [`held.${i}`, deltaOf(h).data]);
  }

  json(): HeldJson[] {
    return this.items.map(({ update: u, weight }) => ({ sender: u.sender, round: u.round, baseVersion: u.baseVersion, examples: u.examples, slice: u.resolved.slice, weight }));
  }

  static restore(s: SavedState, json: readonly HeldJson[], specs: ParamSet['specs']): HeldUpdates {
    const h = new HeldUpdates();
    json.forEach((j, i) => {
      const resolved = resolveSlice(j.slice, specs);
      const size = resolved.localSpecs.reduce((n, sp) => n + sp.shape.reduce((k, d) => k * d, 1), 0);
      const delta = ParamSet.wrap(resolved.localSpecs, requireArray(s, `held.${i}`, size).slice());
      h.add({ sender: j.sender, round: j.round, baseVersion: j.baseVersion, examples: j.examples, resolved, delta }, j.weight);
    });
    return h;
  }
}

function deltaOf(h: Held, into?: ParamSet): ParamSet {
  if ('delta' in h.form) return h.form.delta;
  // Checked and decoded once already when the update came in: this cannot fail.
  const delta = into ?? ParamSet.zeros(h.update.resolved.localSpecs);
  for (const t of h.form.encoded) codecFor(t.params).decode(t.payload, t.shape, t.params, delta.tensor(t.name), t.name);
  return delta;
}
