/**
 * One-shot merging of whole models (spec section 8): weighted average, task arithmetic,
 * TIES, DARE, SLERP, and git re-basin weight matching for MLPs. Pure and deterministic:
 * the same inputs give the same bits.
 */
export { MergeError, type MergeErrorCode } from './errors.js';
export { mergeAverage } from './average.js';
export { taskArithmetic, type TaskArithmeticOptions } from './task-arithmetic.js';
export { ties, tiesMergeDeltas, trimCount, type TiesOptions, type TiesScope } from './ties.js';
export { dare, dareSparsify, dareSparsifyWithMask, type DareOptions, type DareRescale } from './dare.js';
export { slerp, slerpVectors, SLERP_DOT_THRESHOLD } from './slerp.js';
export { linearAssignment, type Assignment } from './assignment.js';
export { mlpLayers, permuteMlp, type MlpLayer } from './permutation.js';
export {
  weightMatching,
  mergeWithWeightMatching,
  type WeightMatchingOptions,
  type WeightMatchingResult,
} from './weight-matching.js';
