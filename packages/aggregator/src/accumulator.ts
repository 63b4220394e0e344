import { axpy } from '@fednode/kernels';
import type { ParamSet } from '@fednode/core';
import type { ClientUpdate } from './types.js';

/**
 * Slice-aware running sums over the global layout. Each update adds `valueWeight·Δ` to
 * `sum` and `coverWeight` to the cover of exactly the elements its slice holds, so the
 * mean is taken per element over the updates that cover it; elements nobody covered stay
 * at 0. (FedAvg: both weights n_k, giving Σn_kΔ_k/Σn_k; FedBuff's B/K: value weight
 * s(τ)e(n), cover weight 1.)
 *
 * A tensor held whole adds its cover weight once to `tensorCover` instead of to every
 * element: whole-model updates, the common case, then cost one axpy each.
 */
export class DeltaAccumulator {
  readonly sum: Float32Array;
  /** Cover from sliced tensors, per element. */
  readonly cover: Float32Array;
  /** Cover from tensors held whole, per tensor (in spec order). */
  readonly tensorCover: Float32Array;
  count = 0;
  private readonly index: Map<string, number>;

  constructor(private readonly global: ParamSet) {
    this.sum = new Float32Array(global.size);
    this.cover = new Float32Array(global.size);
    this.tensorCover = new Float32Array(global.specs.length);
    this.index = new Map(global.specs.map((s, i) => [s.name, i]));
  }

  add(u: ClientUpdate, valueWeight: number, coverWeight: number): void {
    for (const t of u.resolved.tensors) {
      const local = u.delta.tensor(t.name);
      const base = this.global.offsetOf(t.name);
      if (t.whole) {
        axpy(valueWeight, local, this.sum.subarray(base, base + local.length));
        const ti = this.index.get(t.name)!;
        this.tensorCover[ti] = this.tensorCover[ti] + coverWeight;
        continue;
      }
      const map = t.indexMap;
      const s = this.sum;
      const c = this.cover;
      for (let i = 0; i < map.length; i++) {
        const g = base + map[i];
        s[g] += valueWeight * local[i];
        c[g] += coverWeight;
      }
    }
    this.count++;
  }

  /**
   * Per-element mean into `out` (0 where nothing covered). Returns how many elements were
   * covered, and the coverage mask when some were not (null when all were).
   */
  mean(out: Float32Array): { covered: number; mask: Uint8Array | null } {
    let covered = 0;
    let mask: Uint8Array | null = null;
    const { sum, cover } = this;
    this.global.specs.forEach((spec, ti) => {
      const base = this.global.offsetOf(spec.name);
      const end = base + this.global.tensor(spec.name).length;
      const tc = this.tensorCover[ti];
      for (let j = base; j < end; j++) {
        const c = cover[j] + tc;
        if (c > 0) {
          out[j] = sum[j] / c;
          covered++;
        } else {
          out[j] = 0;
          if (mask === null) mask = new Uint8Array(out.length).fill(1);
          mask[j] = 0;
        }
      }
    });
    return { covered, mask };
  }

  reset(): void {
    this.sum.fill(0);
    this.cover.fill(0);
    this.tensorCover.fill(0);
    this.count = 0;
  }
}

/** Global L2 norm of a decoded delta (all tensors together). */
export function deltaNorm(u: ClientUpdate): number {
  let s = 0;
  const d = u.delta.data;
  for (let i = 0; i < d.length; i++) s += d[i] * d[i];
  return Math.sqrt(s);
}

/** True when the update holds every tensor of the model whole. */
export function isFullModel(u: ClientUpdate, global: ParamSet): boolean {
  return u.resolved.tensors.length === global.specs.length && u.resolved.tensors.every((t) => t.whole);
}
