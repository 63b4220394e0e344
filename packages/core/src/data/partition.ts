import { Rng } from '@fednode/kernels';
import { DataError } from './errors.js';

/**
 * Partitioners: split a dataset's row indices among clients (spec section 10). Each returns
 * one index list per client; together they are disjoint and cover every row (the label-shard
 * split covers every row too: shard sizes differ by at most one). Every random choice comes
 * from a seeded Rng, so the same arguments give the same split.
 */
export type Partition = Uint32Array[];

function checkClients(clients: number, rows: number): void {
  if (!Number.isInteger(clients) || clients < 1) throw new DataError('DATA_ARGUMENT', `client count ${clients} must be a positive integer`);
  if (clients > rows) throw new DataError('DATA_ARGUMENT', `${clients} clients cannot each get a row of ${rows}`);
}

function checkLabels(labels: ArrayLike<number>): number {
  let max = -1;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0) throw new DataError('DATA_ARGUMENT', `label ${l} at row ${i} is not a non-negative integer`);
    if (l > max) max = l;
  }
  return max + 1;
}

/** IID: a seeded shuffle cut into `clients` parts whose sizes differ by at most one. */
export function iidPartition(rows: number, clients: number, seed: number): Partition {
  checkClients(clients, rows);
  const order = new Rng(seed).shuffle(Uint32Array.from({ length: rows }, (_, i) => i));
  const out: Partition = [];
  for (let j = 0; j < clients; j++) {
    out.push(order.slice(Math.floor((j * rows) / clients), Math.floor(((j + 1) * rows) / clients)));
  }
  return out;
}

export interface DirichletOptions {
  /** Concentration β; smaller is more skewed. Default 0.5 (the spec's default). */
  alpha?: number;
  seed: number;
  /** Every client must end with at least this many rows. Default 10 (NIID-Bench). */
  minSize?: number;
  /** Whole-split redraws allowed before giving up (the loop never ends when minSize * clients > rows). Default 100. */
  maxRetries?: number;
}

/**
 * Dirichlet(β) label skew, NIID-Bench's `partition_data`: per class, shuffle its rows, draw
 * p ~ Dir(β·1), zero the share of clients already holding N/n rows, renormalise, and cut the
 * class at floor(cumsum(p)·|class|); redraw the whole split until every client has minSize
 * rows. Each client's rows are shuffled at the end.
 */
export function dirichletPartition(labels: ArrayLike<number>, clients: number, opts: DirichletOptions): Partition {
  const rows = labels.length;
  checkClients(clients, rows);
  const alpha = opts.alpha ?? 0.5;
  const minSize = opts.minSize ?? 10;
  const maxRetries = opts.maxRetries ?? 100;
  if (!(alpha > 0 && Number.isFinite(alpha))) throw new DataError('DATA_ARGUMENT', `Dirichlet alpha ${alpha} must be a positive number`);
  if (!Number.isInteger(minSize) || minSize < 0) throw new DataError('DATA_ARGUMENT', `minSize ${minSize} must be a non-negative integer`);
  const classes = checkLabels(labels);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < rows; i++) byClass[labels[i]].push(i);

  const rng = new Rng(opts.seed);
  const cap = rows / clients;
  const alphas = new Float64Array(clients).fill(alpha);
  const p = new Float64Array(clients);
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    const parts: number[][] = Array.from({ length: clients }, () => []);
    for (const idx of byClass) {
      if (idx.length === 0) continue;
      rng.shuffle(idx);
      rng.dirichlet(alphas, p);
      let sum = 0;
      for (let j = 0; j < clients; j++) {
        if (parts[j].length >= cap) p[j] = 0;
        sum += p[j];
      }
      // Every client full cannot happen while rows remain, but never divide by zero.
      if (sum === 0) p.fill(1 / clients);
      else for (let j = 0; j < clients; j++) p[j] /= sum;
      let acc = 0;
      let start = 0;
      for (let j = 0; j < clients; j++) {
        acc += p[j];
        const end = j === clients - 1 ? idx.length : Math.min(idx.length, Math.floor(acc * idx.length));
        for (let k = start; k < end; k++) parts[j].push(idx[k]);
        start = Math.max(start, end);
      }
    }
    if (parts.every((part) => part.length >= minSize)) return parts.map((part) => rng.shuffle(Uint32Array.from(part)));
  }
  throw new DataError(
    'DATA_ARGUMENT',
    `Dirichlet split: no draw gave every one of ${clients} clients ${minSize} rows in ${maxRetries + 1} tries (raise alpha, or lower the client count or minSize)`,
  );
}

export interface ShardOptions {
  /** Shards each client gets. Default 2 (McMahan et al.'s pathological non-IID split). */
  shardsPerClient?: number;
  seed: number;
}

/**
 * Label shards (McMahan et al.): stable-sort the rows by label, cut them into
 * clients·shardsPerClient shards of near-equal size, and give each client shardsPerClient
 * shards drawn without replacement. With label counts that are multiples of the shard size
 * (MNIST's 200 shards of 300 come close) each client sees at most shardsPerClient labels; a
 * shard that straddles a label boundary adds one.
 */
export function shardPartition(labels: ArrayLike<number>, clients: number, opts: ShardOptions): Partition {
  const rows = labels.length;
  const per = opts.shardsPerClient ?? 2;
  if (!Number.isInteger(per) || per < 1) throw new DataError('DATA_ARGUMENT', `shards per client ${per} must be a positive integer`);
  checkClients(clients * per, rows);
  checkLabels(labels);
  // Ties broken by row index: a stable sort, rows keep their order within a label.
  const sorted = Uint32Array.from({ length: rows }, (_, i) => i).sort((a, b) => labels[a] - labels[b] || a - b);
  const shards = clients * per;
  const order = new Rng(opts.seed).shuffle(Uint32Array.from({ length: shards }, (_, i) => i));
  const out: Partition = [];
  for (let j = 0; j < clients; j++) {
    const mine = Array.from(order.subarray(j * per, (j + 1) * per));
    const size = mine.reduce((n, s) => n + shardEnd(s) - shardStart(s), 0);
    const part = new Uint32Array(size);
    let at = 0;
    for (const s of mine) {
      part.set(sorted.subarray(shardStart(s), shardEnd(s)), at);
      at += shardEnd(s) - shardStart(s);
    }
    out.push(part);
  }
  return out;

  function shardStart(s: number): number {
    return Math.floor((s * rows) / shards);
  }
  function shardEnd(s: number): number {
    return Math.floor(((s + 1) * rows) / shards);
  }
}

/** Throws unless the parts are disjoint and (with `complete`) cover 0..rows-1 exactly. */
export function checkPartition(parts: readonly ArrayLike<number>[], rows: number, complete = true): void {
  const seen = new Uint8Array(rows);
  let total = 0;
  parts.forEach((part, j) => {
    for (let i = 0; i < part.length; i++) {
      const r = part[i];
      if (r >= rows) throw new DataError('DATA_ARGUMENT', `client ${j}: row ${r} is outside 0..${rows - 1}`);
      if (seen[r] !== 0) throw new DataError('DATA_ARGUMENT', `row ${r} is given to more than one client`);
      seen[r] = 1;
      total++;
    }
  });
  if (complete && total !== rows) throw new DataError('DATA_ARGUMENT', `the parts hold ${total} of ${rows} rows`);
}
