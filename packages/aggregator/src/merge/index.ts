/**
 * One-shot merging of whole models (spec section 8): weighted average, task arithmetic,
 * TIES, DARE, SLERP, git re-basin weight matching (MLPs, and any network through a permutation
 * spec: the CNN's channels, the transformer's heads, feed-forward units and residual stream), and
 * Branch-Train-MiX expert assembly. Pure and deterministic:
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
export {
  axisPerms,
  gatherAxes,
  permuteBySpec,
  resolveSpec,
  type PermutationGroup,
  type PermutationSpec,
  type PermutedAxis,
  type TensorAxes,
} from './permutation-spec.js';
export { weightMatchingBySpec, type SpecMatchingOptions, type SpecMatchingResult } from './rebasin.js';
export { cnnSpec, mlpSpec, transformerSpec, type TransformerShape } from './model-specs.js';
export { assembleExperts, type ExpertAssemblyOptions } from './moe-assembly.js';
