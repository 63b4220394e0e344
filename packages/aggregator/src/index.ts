/**
 * @fednode/aggregator: strategies as plain objects with explicit state. Pure and
 * deterministic: no I/O, same inputs, same output, bit for bit.
 */
export { AggregatorError, Refusal, type AggregatorErrorCode, type RefusalCode } from './errors.js';
export type { Acceptance, AggregateResult, ClientUpdate, Strategy } from './types.js';
export { FedAvg, type FedAvgConfig, type DpConfig } from './strategies/fedavg.js';
export { FedBuff, type FedBuffConfig } from './strategies/fedbuff.js';
export type { UpdateGuards } from './strategies/common.js';
export type { ServerOptimizerConfig } from './server-optimizer.js';
export type { RobustConfig } from './robust.js';
export { exampleWeight, stalenessWeight, type ExampleWeight, type StalenessFn } from './staleness.js';
export { clientUpdateFrom } from './client-update.js';
export { restoreStrategy } from './restore.js';
export * from './merge/index.js';
export * from './sync/index.js';
