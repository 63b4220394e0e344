import type { NodeRole } from '../daemon/node.js';
import type { LogLevel } from '../runtime/log.js';

/** `fednode start`'s flags, for every role. */
export interface StartFlags {
  config: string;
  role: NodeRole | 'peer';
  dataDir?: string;
  listen?: string[];
  key?: string;
  shard?: number;
  bootstrap?: string[];
  name?: string;
  capability?: string;
  aggregator?: string;
  metricsPort?: number;
  log?: string;
  logLevel: LogLevel;
}
