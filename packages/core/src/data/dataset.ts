import { DataError } from './errors.js';

/**
 * A labelled dataset held in memory: `count` rows of `features` floats, row-major in one
 * Float32Array (the layout the engine feeds to onnxruntime), and one label per row.
 */
export interface Dataset {
  readonly name: string;
  readonly count: number;
  readonly features: number;
  readonly classes: number;
  readonly x: Float32Array;
  readonly y: Uint8Array;
}

/** Per-feature-agnostic normalisation: x' = (x - mean) / std, the same for every pixel. */
export interface Normalization {
  readonly mean: number;
  readonly std: number;
}

/** Mean and standard deviation over every value of the dataset (computed in float64). */
export function pixelStats(ds: Dataset): Normalization {
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < ds.x.length; i++) {
    const v = ds.x[i];
    sum += v;
    sq += v * v;
  }
  const n = ds.x.length;
  const mean = sum / n;
  const std = Math.sqrt(Math.max(sq / n - mean * mean, 0));
  return { mean, std: std > 0 ? std : 1 };
}

/** A copy of the dataset with every value normalised. */
export function normalize(ds: Dataset, norm: Normalization): Dataset {
  const x = new Float32Array(ds.x.length);
  const inv = 1 / norm.std;
  for (let i = 0; i < x.length; i++) x[i] = (ds.x[i] - norm.mean) * inv;
  return { ...ds, x };
}

/** The rows at `indices`, copied, in that order (a client's share, or a quick subset). */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const f = ds.features;
  const x = new Float32Array(indices.length * f);
  const y = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (!Number.isInteger(r) || r < 0 || r >= ds.count) throw new DataError('DATA_ARGUMENT', `subset: index ${r} is outside 0..${ds.count - 1}`);
    x.set(ds.x.subarray(r * f, r * f + f), i * f);
    y[i] = ds.y[r];
  }
  return { name, count: indices.length, features: f, classes: ds.classes, x, y };
}

/** The first `n` rows (a view, not a copy): quick runs and tests. */
export function head(ds: Dataset, n: number): Dataset {
  const count = Math.min(n, ds.count);
  return { ...ds, count, x: ds.x.subarray(0, count * ds.features), y: ds.y.subarray(0, count) };
}

/** How many rows carry each label. */
export function labelCounts(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}
