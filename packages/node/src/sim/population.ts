import { Rng } from '@fednode/kernels';
import type { tasks, Task } from '@fednode/core';
import { sample } from './distributions.js';
import type { AttackSpec, Scenario } from './scenario.js';

/** One simulated client: its data, its machine and network, and whether it attacks. */
export interface SimClient {
  readonly id: number;
  readonly name: string;
  /** Its data share (share `id` of data.shares, cut by the task's partitioner). */
  readonly share: tasks.DataShare;
  /** Local training speed, examples per second. */
  readonly speed: number;
  readonly uplinkBytesPerS: number;
  readonly downlinkBytesPerS: number;
  readonly latencyS: number;
  /** Phase of its on/off schedule, seconds. */
  readonly phaseS: number;
  readonly attack: AttackSpec | null;
}

/** Independent seeded streams, one per kind of random choice, so adding one kind never shifts another. */
export const STREAM = { profile: 1, attackers: 2, selection: 3, dropout: 4, availability: 5, training: 6, noise: 7, partition: 8 } as const;

/** The name client `id` goes by (slices.peers may name it; daemons of `--real` get it as --name). */
export function clientName(id: number): string {
  return `client-${String(id).padStart(4, '0')}`;
}

/** A client's machine and network as the population's distributions draw them (no data). */
export type ClientProfile = Pick<SimClient, 'speed' | 'uplinkBytesPerS' | 'downlinkBytesPerS' | 'latencyS' | 'phaseS'>;

/**
 * Each client's speed, links and schedule phase, drawn in client order from the seeded profile
 * stream: the simulator's population and the shaped links of a real run get the same values.
 */
export function clientProfiles(s: Scenario): ClientProfile[] {
  const p = s.population;
  const rng = Rng.derive(s.seed, STREAM.profile);
  const period = typeof p.availability === 'object' ? p.availability.onS + p.availability.offS : 0;
  return Array.from({ length: s.data.shares }, () => ({
    speed: Math.max(1e-3, sample(p.speed, rng)),
    uplinkBytesPerS: Math.max(1, (sample(p.uplinkMbps, rng) * 1e6) / 8),
    downlinkBytesPerS: Math.max(1, (sample(p.downlinkMbps, rng) * 1e6) / 8),
    latencyS: sample(p.latencyMs, rng) / 1000,
    phaseS: rng.uniform() * period,
  }));
}

/**
 * The population: client i holds share i of the task's data, cut by the run document's
 * partition with the run's seed (as each trainer daemon of the run cuts its own), and gets its
 * speed, links and schedule from the population's distributions.
 */
export function buildPopulation(s: Scenario, task: Task): SimClient[] {
  const n = s.data.shares;
  const attackers = new Set<number>();
  const attack = s.population.attackers;
  if (attack && attack.fraction > 0) {
    const order = Uint32Array.from({ length: n }, (_, i) => i);
    Rng.derive(s.seed, STREAM.attackers).shuffle(order);
    for (let i = 0; i < Math.round(attack.fraction * n); i++) attackers.add(order[i]);
  }
  return clientProfiles(s).map((profile, id) => ({
    id,
    name: clientName(id),
    share: task.share(n, id, s.data.partition, s.seed),
    ...profile,
    attack: attackers.has(id) ? (attack ?? null) : null,
  }));
}

/** Whether a client is online at virtual time `t` (probability draws are seeded by round and client). */
export function isAvailable(s: Scenario, c: SimClient, t: number, round: number): boolean {
  const a = s.population.availability;
  if (a === undefined) return true;
  if (typeof a === 'number') return Rng.derive(s.seed, STREAM.availability, round, c.id).uniform() < a;
  return (t + c.phaseS) % (a.onS + a.offS) < a.onS;
}
