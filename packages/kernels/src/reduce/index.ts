/** Reductions over N arrays: FedAvg sums, coverage-masked averages, clipping, robust statistics. */
export { axpy, scaleInto, dot, l2NormSquared, l2Norm } from './vector.js';
export { weightedSum } from './weighted-sum.js';
export { maskedAccumulate, indexedAccumulate, coverageAverage } from './coverage.js';
export { clipByGlobalNorm } from './clip.js';
export { coordinateMedian, trimmedMean, DEFAULT_TRIM_BETA } from './robust.js';
export { pairwiseSquaredDistances, krumScores, krumSelect } from './krum.js';
