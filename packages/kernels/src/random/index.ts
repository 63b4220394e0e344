/** Seeded, platform-independent random numbers (xoshiro128**) for sampling and partitioning. */
export { Rng, type Indexable } from './rng.js';
