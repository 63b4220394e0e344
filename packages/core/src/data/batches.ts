import { Rng } from '@fednode/kernels';
import type { Dataset } from './dataset.js';
import { DataError } from './errors.js';

/** One mini-batch as the engine feeds it: x [size, features] floats, y [size] int64 labels. */
export interface Batch {
  readonly size: number;
  readonly x: Float32Array;
  readonly y: BigInt64Array;
}

export interface BatchOptions {
  batchSize: number;
  /** Seed of the shuffle; each epoch draws its order from Rng.derive(seed, epoch). */
  seed: number;
  epoch?: number;
  /** Rows to draw from (a client's share); default every row. */
  indices?: ArrayLike<number>;
  /** Skip a last batch smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Keep the given order instead of shuffling (evaluation). Default true. */
  shuffle?: boolean;
}

/** Number of batches `batches` yields for these options. */
export function batchCount(rows: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(rows / batchSize) : Math.ceil(rows / batchSize);
}

/**
 * Seeded shuffled mini-batches over a dataset (or a subset of its rows). The same seed and
 * epoch give the same batches; every batch is a fresh copy, so a caller may hand it to a worker
 * while the next one is built.
 */
export function* batches(ds: Dataset, opts: BatchOptions): Generator<Batch> {
  const { batchSize } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DataError('DATA_ARGUMENT', `batch size ${batchSize} must be a positive integer`);
  const order = opts.indices === undefined ? Uint32Array.from({ length: ds.count }, (_, i) => i) : Uint32Array.from(opts.indices);
  for (const r of order) if (r >= ds.count) throw new DataError('DATA_ARGUMENT', `row ${r} is outside the dataset's ${ds.count} rows`);
  if (opts.shuffle ?? true) Rng.derive(opts.seed, opts.epoch ?? 0).shuffle(order);
  const f = ds.features;
  const n = batchCount(order.length, batchSize, opts.dropLast);
  for (let b = 0; b < n; b++) {
    const start = b * batchSize;
    const size = Math.min(batchSize, order.length - start);
    const x = new Float32Array(size * f);
    const y = new BigInt64Array(size);
    for (let i = 0; i < size; i++) {
      const r = order[start + i];
      x.set(ds.x.subarray(r * f, r * f + f), i * f);
      y[i] = BigInt(ds.y[r]);
    }
    yield { size, x, y };
  }
}
