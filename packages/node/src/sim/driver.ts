/**
 * How the simulator hands out work and closes epochs, for any strategy, through the
 * `Strategy` interface alone. The strategy's pacing picks the loop:
 * - `rounds`: each epoch samples a cohort of online clients that all train from the same
 *   version; the epoch closes when the strategy is ready (its cohort less backup workers, or
 *   its deadline) or is abandoned; clients still computing then are late and never train.
 * - `continuous`: clients.perRound clients are kept in flight; each arrival is offered and a
 *   new client dispatched at once; a version is made whenever the strategy is ready.
 * Both run on the virtual clock (strategy deadlines in virtual milliseconds).
 */
import { Rng } from '@fednode/kernels';
import type { ParamSet } from '@fednode/core';
import type { AggregateResult, ClientUpdate, Strategy } from '@fednode/aggregator';
import { SimError } from './errors.js';
import { STREAM, isAvailable, type SimClient } from './population.js';
import { perRoundOf, type Scenario } from './scenario.js';
import type { RoundRecord } from './types.js';

/** What a model path (images on engine.Trainer, text on onnxruntime sessions) provides the loop. */
export interface DriverHooks<C extends SimClient> {
  readonly clients: readonly C[];
  /**
   * When `c`'s update arrives if it starts at `start` (virtual seconds), and how many local
   * steps it trains: its whole budget (null), or with partial work only what fits before `deadline`.
   */
  plan(c: C, start: number, deadline: number): { readonly arrival: number; readonly steps: number | null };
  /** `c` was sent the model. */
  dispatched(c: C): void;
  /** Trains `c` from `base` (`steps`: stop early, as planned) and returns what the server receives. */
  contribute(c: C, base: ParamSet, baseVersion: number, epoch: number, steps: number | null): Promise<ClientUpdate>;
  evaluate(params: ParamSet, round: number, last: boolean): Promise<{ accuracy: number | null; loss: number | null }>;
  record(r: Omit<RoundRecord, 'wall_s' | 'bytes_up' | 'bytes_down'>): void;
}

/** Runs the scenario's epochs; returns the final global model (the initial one if no version was made). */
export function driveStrategy<C extends SimClient>(s: Scenario, strategy: Strategy, h: DriverHooks<C>): Promise<ParamSet> {
  return strategy.pacing === 'rounds' ? runRounds(s, strategy, h) : runContinuous(s, strategy, h);
}

interface Dispatch<C> {
  readonly client: C;
  readonly arrival: number;
  readonly steps: number | null;
  readonly dropped: boolean;
}

/** The mean staleness of accepted updates, for the record. */
class Staleness {
  private sum = 0;
  private n = 0;
  add(tau: number | undefined): void {
    this.sum += tau ?? 0;
    this.n++;
  }
  take(): number {
    const m = this.n > 0 ? this.sum / this.n : 0;
    this.sum = 0;
    this.n = 0;
    return m;
  }
}

async function runRounds<C extends SimClient>(s: Scenario, strategy: Strategy, h: DriverHooks<C>): Promise<ParamSet> {
  let final = strategy.global;
  let now = 0;
  const staleness = new Staleness();
  for (let round = 0; round < s.rounds; round++) {
    if (s.timeBudgetS !== undefined && now >= s.timeBudgetS) break;
    const online = h.clients.filter((c) => isAvailable(s, c, now, round));
    const pick = Uint32Array.from({ length: online.length }, (_, i) => i);
    Rng.derive(s.seed, STREAM.selection, round).shuffle(pick);
    const cohort = [...pick.subarray(0, Math.min(perRoundOf(s), online.length))].map((i) => online[i]);
    strategy.open(now * 1000, { cohort: cohort.length });
    const deadline = strategy.deadlineMs === null ? Infinity : strategy.deadlineMs / 1000;
    const dropRng = Rng.derive(s.seed, STREAM.dropout, round);
    const dispatches = cohort
      .map((c): Dispatch<C> => ({ client: c, ...h.plan(c, now, deadline), dropped: dropRng.uniform() < (s.population.dropout ?? 0) }))
      .sort((a, b) => a.arrival - b.arrival || a.client.id - b.client.id);
    for (const c of cohort) h.dispatched(c);
    const base = strategy.global.clone();
    const baseVersion = strategy.version;
    let offered = 0;
    let refused = 0;
    let attackers = 0;
    let lastArrival: number | null = null;
    let closedAt: number | null = null;
    for (const d of dispatches) {
      if (d.dropped) continue;
      if (d.arrival > deadline) break;
      offered++;
      lastArrival = d.arrival;
      if (d.client.attack !== null) attackers++;
      const u = await h.contribute(d.client, base, baseVersion, strategy.epoch, d.steps);
      const tau = strategy.staleness(u.baseVersion);
      if (strategy.offer(u).accepted) staleness.add(tau);
      else refused++;
      if (strategy.ready(d.arrival * 1000)) {
        closedAt = d.arrival;
        break;
      }
    }
    // Not ready by the last arrival: at the deadline, or with no deadline once nothing more can come.
    const atEnd = Number.isFinite(deadline) ? deadline * 1000 : Infinity;
    if (closedAt === null && !strategy.ready(atEnd)) {
      now = Number.isFinite(deadline) ? deadline : now + 1;
      strategy.abandon(now * 1000);
      staleness.take();
      continue;
    }
    const result: AggregateResult = strategy.aggregate(closedAt === null ? atEnd : closedAt * 1000);
    now = closedAt ?? (Number.isFinite(deadline) ? deadline : (lastArrival ?? now));
    final = result.params;
    const ev = await h.evaluate(result.params, round, round === s.rounds - 1);
    const arriving = dispatches.filter((d) => !d.dropped).length;
    h.record({
      round,
      version: result.version,
      virtual_time_s: now,
      ...ev,
      participants: result.participants.length,
      dispatched: cohort.length,
      dropped: dispatches.length - arriving,
      late: arriving - offered,
      refused,
      attackers,
      mean_staleness: staleness.take(),
    });
  }
  return final;
}

interface InFlight<C> extends Dispatch<C> {
  readonly base: ParamSet;
  readonly baseVersion: number;
}

async function runContinuous<C extends SimClient>(s: Scenario, strategy: Strategy, h: DriverHooks<C>): Promise<ParamSet> {
  let final = strategy.global;
  const inFlight = new Map<number, InFlight<C>>();
  let dispatchCount = 0;
  let dropped = 0;
  let refused = 0;
  let round = 0;
  const staleness = new Staleness();
  const dispatch = (at: number): boolean => {
    const online = h.clients.filter((c) => !inFlight.has(c.id) && isAvailable(s, c, at, dispatchCount));
    if (online.length === 0) return false;
    const c = online[Rng.derive(s.seed, STREAM.selection, dispatchCount).uniformInt(online.length)];
    const drop = Rng.derive(s.seed, STREAM.dropout, dispatchCount).uniform() < (s.population.dropout ?? 0);
    dispatchCount++;
    inFlight.set(c.id, { client: c, ...h.plan(c, at, Infinity), dropped: drop, base: strategy.global.clone(), baseVersion: strategy.version });
    h.dispatched(c);
    return true;
  };
  const close = async (at: number): Promise<void> => {
    const result = strategy.aggregate(at * 1000);
    final = result.params;
    const ev = await h.evaluate(result.params, round, round === s.rounds - 1);
    h.record({
      round,
      version: result.version,
      virtual_time_s: at,
      ...ev,
      participants: result.participants.length,
      dispatched: dispatchCount,
      dropped,
      late: 0,
      refused,
      attackers: 0,
      mean_staleness: staleness.take(),
    });
    round++;
    strategy.open(at * 1000);
  };
  for (let i = 0; i < perRoundOf(s); i++) dispatch(0);
  strategy.open(0);
  while (round < s.rounds && inFlight.size > 0) {
    const next = [...inFlight.values()].sort((a, b) => a.arrival - b.arrival || a.client.id - b.client.id)[0];
    const deadline = strategy.deadlineMs;
    if (deadline !== null && deadline / 1000 < next.arrival) {
      // The strategy's time is up before the next arrival: it flushes, or abandons and waits on.
      const at = deadline / 1000;
      if (s.timeBudgetS !== undefined && at > s.timeBudgetS) break;
      if (strategy.ready(deadline)) await close(at);
      else if (strategy.abandon(deadline)) strategy.open(deadline);
      continue;
    }
    inFlight.delete(next.client.id);
    const now = next.arrival;
    if (s.timeBudgetS !== undefined && now > s.timeBudgetS) break;
    if (next.dropped) {
      dropped++;
    } else {
      const u = await h.contribute(next.client, next.base, next.baseVersion, strategy.epoch, next.steps);
      const tau = strategy.staleness(u.baseVersion);
      if (strategy.offer(u).accepted) staleness.add(tau);
      else refused++;
      if (strategy.ready(now * 1000)) await close(now);
    }
    if (!dispatch(now) && inFlight.size === 0) throw new SimError('SIM_RUN', `no client is available at t = ${now.toFixed(1)} s and none is in flight`);
  }
  return final;
}
