/**
 * The fuzz run of scripts/fuzz-check.ts at a size `npm test` affords: 100 mutated frames on
 * every protocol of a training aggregator and 100 mutated sync parts against training peers,
 * each refused by name. The acceptance run is the same file with FUZZ_FRAMES=10000, by hand.
 */
process.env.FUZZ_FRAMES ??= '100';
process.env.FUZZ_ROUNDS ??= '15';
await import('../../scripts/fuzz-check.js');
