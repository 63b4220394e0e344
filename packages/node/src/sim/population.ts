import { Rng } from '@fednode/kernels';
import { dirichletPartition, iidPartition, shardPartition } from '@fednode/core';
import { sample } from './distributions.js';
import { SimError } from './errors.js';
import type { AttackSpec, Scenario } from './scenario.js';

/** One simulated client: its data, its machine and network, and whether it attacks. */
export interface SimClient {
  readonly id: number;
  readonly name: string;
  /** Rows of the training set it holds. */
  readonly rows: Uint32Array;
  /** Local training speed, samples per second. */
  readonly speed: number;
  readonly uplinkBytesPerS: number;
  readonly downlinkBytesPerS: number;
  readonly latencyS: number;
  /** Phase of its on/off schedule, seconds. */
  readonly phaseS: number;
  readonly attack: AttackSpec | null;
}

/** Independent seeded streams, one per kind of random choice, so adding one kind never shifts another. */
export const STREAM = { profile: 1, attackers: 2, selection: 3, dropout: 4, availability: 5, training: 6, noise: 7, partition: 8, experts: 9 } as const;

/**
 * The population; `natural` gives each client's rows when the dataset brings its own clients
 * (partition natural), in place of partitioning `labels`.
 */
export function buildPopulation(s: Scenario, labels: Uint8Array, natural?: readonly Uint32Array[]): SimClient[] {
  const n = s.clients.count;
  const seed = Rng.derive(s.seed, STREAM.partition).nextU32();
  const p = s.dataset.partition;
  if (p.kind === 'natural' && natural?.length !== n) throw new SimError('SIM_RUN', `partition natural needs the ${n} clients' own rows`);
  const parts =
    p.kind === 'natural'
      ? natural!
      : p.kind === 'iid'
      ? iidPartition(labels.length, n, seed)
      : p.kind === 'dirichlet'
        ? dirichletPartition(labels, n, { alpha: p.alpha, seed, minSize: Math.min(10, Math.floor(labels.length / n)) })
        : shardPartition(labels, n, { shardsPerClient: p.perClient ?? 2, seed });
  const attackers = new Set<number>();
  if (s.attackers && s.attackers.fraction > 0) {
    const order = Uint32Array.from({ length: n }, (_, i) => i);
    Rng.derive(s.seed, STREAM.attackers).shuffle(order);
    for (let i = 0; i < Math.round(s.attackers.fraction * n); i++) attackers.add(order[i]);
  }
  const rng = Rng.derive(s.seed, STREAM.profile);
  const period = typeof s.clients.availability === 'object' ? s.clients.availability.onS + s.clients.availability.offS : 0;
  return parts.map((rows, id) => ({
    id,
    name: `client-${String(id).padStart(4, '0')}`,
    rows,
    speed: Math.max(1e-3, sample(s.clients.speed, rng)),
    uplinkBytesPerS: Math.max(1, (sample(s.clients.uplinkMbps, rng) * 1e6) / 8),
    downlinkBytesPerS: Math.max(1, (sample(s.clients.downlinkMbps, rng) * 1e6) / 8),
    latencyS: sample(s.clients.latencyMs, rng) / 1000,
    phaseS: rng.uniform() * period,
    attack: attackers.has(id) ? (s.attackers ?? null) : null,
  }));
}

/** Whether a client is online at virtual time `t` (probability draws are seeded by round and client). */
export function isAvailable(s: Scenario, c: SimClient, t: number, round: number): boolean {
  const a = s.clients.availability;
  if (a === undefined) return true;
  if (typeof a === 'number') return Rng.derive(s.seed, STREAM.availability, round, c.id).uniform() < a;
  return (t + c.phaseS) % (a.onS + a.offS) < a.onS;
}
