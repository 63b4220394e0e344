/**
 * @fednode/aggregator in a browser (the "browser" export condition): the decentralised
 * synchronisation (DeMo, DiLoCo), which a browser peer applies bit for bit as Node peers do.
 * The federated strategies stay out: their canonical ordering hashes with node:crypto.
 */
export { AggregatorError, type AggregatorErrorCode } from './errors.js';
export * from './sync/index.js';
