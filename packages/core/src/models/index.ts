/** Models beyond the MNIST pair: the character transformer, mixtures of experts, supernets, their slices, ONNX export and training loops. */
export { ModelError, type ModelErrorCode } from './errors.js';
export { type Activation } from './activation.js';
export {
  MASKED_LOGIT,
  checkMoeConfig,
  loadBalancingLoss,
  moeFeedForward,
  topKGate,
  type LblForm,
  type LoadBalancingOptions,
  type MoeConfig,
  type MoeLayer,
  type MoeLayerOptions,
} from './moe.js';
export {
  activeParams,
  causalMask,
  causalSelfAttention,
  checkTransformerConfig,
  transformerLM,
  transformerSpecs,
  type AttentionShape,
  type TransformerConfig,
  type TransformerModel,
  type TransformerOptions,
} from './transformer.js';
export { HETEROFL, headIndices, rollingStart, selectUnits, unitIndices, unitsFor, type RollVariant, type WidthMode, type WidthSelection } from './widths.js';
export {
  MNIST_MLP_SUPERNET,
  mlpSubnetSlice,
  mlpSubnetWidths,
  mlpSupernetModel,
  mlpSupernetSpecs,
  mlpSubnetwork,
  type MlpModel,
  type MlpSubnetwork,
  type MlpSubnet,
  type MlpSupernetConfig,
} from './mlp-supernet.js';
export {
  moeExpertSlice,
  transformerSubnetConfig,
  transformerSubnetSlice,
  transformerSubnetwork,
  type TransformerSubnet,
  type TransformerSubnetwork,
} from './transformer-supernet.js';
export { exportOnnx, type ExportableModel } from './export.js';
export { sandwichWidths, type SandwichOptions } from './sandwich.js';
export {
  evaluateMlpSubnet,
  initMlpSupernet,
  trainMlpSupernet,
  type LabelledRows,
  type SupernetRule,
  type SupernetTrainOptions,
  type SupernetTrainReport,
} from './train-supernet.js';
export { lmEvalOutputs } from './lm-eval.js';
export { topKMaskOf, correctCount } from './nodes.js';
