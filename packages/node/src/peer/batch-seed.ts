import { Rng } from '@fednode/kernels';

/** The batch stream of a peer's share, apart from the model's seed stream. */
const BATCH_STREAM = 1;

/**
 * The seed of a peer's endless batch draw: daemon and browser peers alike, so a share trains
 * the same wherever it runs. `shard` null: all the data (the single-process baseline).
 */
export function peerBatchSeed(seed: number, shard: number | null): number {
  return Rng.derive(seed, BATCH_STREAM, shard ?? 0xffff).nextU32();
}
