import { ParamSet, resolveSlice, type Slice } from '@fednode/core';
import { requireArray, type SavedState } from '../state.js';
import type { ClientUpdate } from '../types.js';
import { byCanonicalKey, canonicalKey } from './canonical.js';

interface Held {
  readonly key: string;
  readonly update: ClientUpdate;
  readonly weight: number;
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

  add(update: ClientUpdate, weight: number): void {
    this.items.push({ key: canonicalKey(update), update, weight });
  }

  inCanonicalOrder(): { readonly update: ClientUpdate; readonly weight: number }[] {
    return byCanonicalKey(this.items);
  }

  clear(): void {
    this.items = [];
  }

  arrays(): [string, Float32Array][] {
    return this.items.map((h, i) => [`held.${i}`, h.update.delta.data]);
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
