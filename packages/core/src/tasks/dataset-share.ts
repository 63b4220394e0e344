import { batches, type Batch } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import type { FeedBatch } from '../engine/trainer.js';
import type { DataShare } from './types.js';

/**
 * A share of image rows as local training reads it: seeded shuffled epochs, or seeded draws.
 * The image tasks make theirs from the training split; a browser peer from the rows its page
 * was given. The same seed gives the same batches in both.
 */

export function imageFeeds(b: Batch): FeedBatch {
  return { size: b.size, feeds: { x: { dtype: 'float32', dims: [b.size, b.x.length / b.size], data: b.x }, y: { dtype: 'int64', dims: [b.size], data: b.y } } };
}

export function* mapIter<A, B>(it: Iterable<A>, f: (a: A) => B): Generator<B> {
  for (const a of it) yield f(a);
}

/** `count` batches from consecutive seeded epochs over the share's rows. */
function* drawEpochs(share: Dataset, batchSize: number, seed: number, count: number): Generator<FeedBatch> {
  let left = count;
  for (let epoch = 0; left > 0; epoch++) {
    for (const b of batches(share, { batchSize, seed, epoch })) {
      if (left-- <= 0) return;
      yield imageFeeds(b);
    }
  }
}

/** `data` is called when the share is first trained on (rows become floats only then). */
export function datasetShare(data: () => Dataset, examples: number, description: string): DataShare {
  return {
    examples,
    description,
    epoch: (batchSize, s, epoch) => mapIter(batches(data(), { batchSize, seed: s, epoch }), imageFeeds),
    draw: (batchSize, s, count) => drawEpochs(data(), batchSize, s, count),
  };
}
