/**
 * A trainer's share of the run's training rows and the aggregator's test rows. Every process
 * computes the same seeded partition from the run file, so shares never overlap and nobody
 * needs to be told which rows are whose.
 */
import { dirichletPartition, iidPartition, loadImageDataset, shardPartition, subset, type Dataset, type Partition } from '@fednode/core';
import type { RunFile } from './run-file.js';
import { DaemonError } from './errors.js';

function firstRows(ds: Dataset, n: number | undefined): Dataset {
  return n === undefined || n >= ds.count ? ds : subset(ds, Uint32Array.from({ length: n }, (_, i) => i));
}

export function partitionOf(run: RunFile, train: Dataset): Partition {
  const p = run.data.partition;
  switch (p.kind) {
    case 'iid':
      return iidPartition(train.count, run.data.shares, run.seed);
    case 'dirichlet':
      return dirichletPartition(train.y, run.data.shares, { alpha: p.alpha, seed: run.seed });
    case 'shards':
      return shardPartition(train.y, run.data.shares, { seed: run.seed, ...(p.perClient === undefined ? {} : { shardsPerClient: p.perClient }) });
  }
}

/** The share index of a trainer: `--shard` wins, then the run file's `data.assign` for its peer id, then for its name. */
export function shareIndexOf(run: RunFile, peerId: string, flag: number | undefined, name?: string): number {
  const i = flag ?? run.data.assign?.[peerId] ?? (name === undefined ? undefined : run.data.assign?.[name]);
  if (i === undefined) {
    throw new DaemonError('DAEMON_CONFIG', `no data share for ${name === undefined ? peerId : `${name} (${peerId})`}: pass --shard I (0 to ${run.data.shares - 1}) or list the peer id or name under data.assign`);
  }
  if (!Number.isInteger(i) || i < 0 || i >= run.data.shares) throw new DaemonError('DAEMON_CONFIG', `share ${i} is outside 0 to ${run.data.shares - 1} (data.shares is ${run.data.shares})`);
  return i;
}

/** The training set (rows the run uses) and the rows of one share. */
export function loadShare(run: RunFile, index: number): { train: Dataset; rows: Uint32Array } {
  const splits = loadImageDataset(run.data.dataset);
  const train = firstRows(splits.train, run.data.trainRows);
  return { train, rows: partitionOf(run, train)[index] };
}

/** The aggregator's evaluation rows; null when the run file turns evaluation off (testRows 0). */
export function loadTestSet(run: RunFile): Dataset | null {
  if (run.data.testRows === 0) return null;
  return firstRows(loadImageDataset(run.data.dataset).test, run.data.testRows);
}
