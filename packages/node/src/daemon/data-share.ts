/**
 * A trainer's share of the run's training data and the aggregator's held-out set, both from
 * the run's task. Every process computes the same seeded partition from the run file, so
 * shares never overlap and nobody needs to be told which examples are whose.
 */
import type { tasks } from '@fednode/core';
import { taskOf, type RunFile } from './run-file.js';
import { DaemonError } from '../runtime/errors.js';

/** The share index of a trainer: `--shard` wins, then the run file's `data.assign` for its peer id, then for its name. */
export function shareIndexOf(run: RunFile, peerId: string, flag: number | undefined, name?: string): number {
  const i = flag ?? run.data.assign?.[peerId] ?? (name === undefined ? undefined : run.data.assign?.[name]);
  if (i === undefined) {
    throw new DaemonError('DAEMON_CONFIG', `no data share for ${name === undefined ? peerId : `${name} (${peerId})`}: pass --shard I (0 to ${run.data.shares - 1}) or list the peer id or name under data.assign`);
  }
  if (!Number.isInteger(i) || i < 0 || i >= run.data.shares) throw new DaemonError('DAEMON_CONFIG', `share ${i} is outside 0 to ${run.data.shares - 1} (data.shares is ${run.data.shares})`);
  return i;
}

/** Share `index` of the run's training data. */
export function loadShare(run: RunFile, index: number): tasks.DataShare {
  return taskOf(run).share(run.data.shares, index, run.data.partition, run.seed);
}

/** The aggregator's evaluation examples; null when the run file turns evaluation off (testRows 0). */
export function loadTestSet(run: RunFile): tasks.EvalSet | null {
  if (run.data.testRows === 0) return null;
  return taskOf(run).testSet(run.data.testRows);
}
