/** The fednode daemon: run files, roles, durability, status and metrics, and `createNode`. */
export { createNode, type FedNode, type NodeConfig, type NodeRole } from './node.js';
export type { NodeEventMap } from './context.js';
export { DaemonError, type DaemonErrorCode } from '../runtime/errors.js';
export { RUN_FILE_SCHEMA, checkRunFile, loadRunFile, runFileFromYaml, readPsk, wireLimitsOf, type LoadedRunFile, type RunFile, type RunStrategy, type PartitionSpec } from './run-file.js';
export { WriteAheadLog, crc32, encodeWalRecord, type WalRecord, type WalReadResult } from './wal.js';
export { jsonLogger, silentLogger, type Logger, type LogLevel, type LogFields } from '../runtime/log.js';
export { Metrics, serveMetrics } from '../runtime/metrics.js';
export { STATUS_PROTOCOL, fetchStatus, serveStatus, type AggregatorStatus, type NodeStatus, type TrainerStatus } from '../runtime/status-protocol.js';
export { REPLAYED_SEQUENCE, RUN_COMPLETE, SLICE_NOT_ASSIGNED, UPDATE_SHAPE } from './aggregator.js';
export { SLICES_SCHEMA, SlicePolicy, trainerSlice, type AssignedSlice, type RunSlices, type SliceRef, type SliceSpec, type SliceVerdict, type TrainerIdentity } from './slices.js';
