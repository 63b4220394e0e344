/**
 * @fednode/aggregator: strategies as plain objects with explicit state. Pure and
 * deterministic: no I/O, same inputs, same output, bit for bit. Runtimes drive them through
 * the `Strategy` interface and find them through the registry (`strategyEntry(kind)`).
 */
export { AggregatorError, Refusal, type AggregatorErrorCode, type RefusalCode } from './errors.js';
export type { Acceptance, AggregateResult, ClientUpdate, EpochOpening, LocalTraining, Pacing, Strategy, UpdateHeader } from './types.js';
export {
  createStrategy,
  defineStrategy,
  hasStrategy,
  localTrainingOf,
  strategyWarnings,
  registerStrategy,
  strategyEntry,
  strategyKinds,
  type CheckContext,
  type CreateContext,
  type FittedSection,
  type StrategyEntry,
  type StrategySection,
  type TypedStrategyEntry,
} from './strategies/registry.js';
export { int, num, obj, pos, prob, type SectionSchema } from './strategies/schema.js';
export { FedAvg, type FedAvgConfig, type DpConfig } from './strategies/fedavg.js';
export { FedBuff, type FedBuffConfig } from './strategies/fedbuff.js';
export { FedProx, type FedProxConfig } from './strategies/fedprox.js';
export type { FedAvgSection } from './strategies/fedavg-entry.js';
export type { FedBuffSection } from './strategies/fedbuff-entry.js';
export type { FedProxSection } from './strategies/fedprox-entry.js';
export { OneShot, type OneShotConfig, type OneShotMethod, type OneShotRuntime } from './strategies/oneshot.js';
export type { MoeMethod } from './strategies/oneshot-merge.js';
export type { AssemblyRequest, ModelAssembler } from './strategies/assembler.js';
export { ONESHOT_PROPERTIES, type OneShotSection } from './strategies/oneshot-entry.js';
export { ALIGNED_METHODS, ASSEMBLY_METHODS, BASE_METHODS, MERGE_METHOD_PROPERTIES, MOE_METHOD_PROPERTIES, type AssemblyMethod, WEIGHTED_METHODS, WEIGHT_SPACE_METHODS, type WeightSpaceMethod } from './merge/method-options.js';
export { canonicalOrder } from './strategies/canonical.js';
export type { UpdateGuards } from './strategies/common.js';
export type { ServerOptimizerConfig } from './server-optimizer.js';
export type { RobustConfig } from './robust.js';
export { exampleWeight, stalenessWeight, type ExampleWeight, type StalenessFn } from './staleness.js';
export { clientUpdateFrom } from './client-update.js';
export { restoreStrategy, savedStrategyKind } from './restore.js';
export * from './merge/index.js';
export * from './sync/index.js';
