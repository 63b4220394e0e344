/**
 * The simulator's model calibrated for a real run on shaped links, from what the trainer
 * daemons measured in the run's even rounds (the first, odd, overlaps every process's
 * start-up): the local step and encoding times of each round's slowest trainer (a synchronous
 * round waits for it), and the time an update spends outside its modelled transfers and
 * compute (learning of the round, requests and acknowledgements, CPU-starved endpoints),
 * which the simulator then counts as latency. The odd rounds after the first are the
 * prediction: interleaved, so that processes still warming up over the first rounds, or a
 * machine whose other load drifts, weigh on both alike.
 * A step time measured with the engine alone in this process, before any daemon starts, is
 * kept beside it: their ratio is how much the trainers (and whatever else ran on the
 * machine) slowed each other down.
 */
import { availableParallelism } from 'node:os';
import { tasks } from '@fednode/core';
import { strategyEntry } from '@fednode/aggregator';
import { localTrainingOf, taskOf } from '../daemon/run-file.js';
import { SimError } from './errors.js';
import { isOneShot, type Scenario } from './scenario.js';
import { MODEL_HEADER_BYTES, UPDATE_HEADER_BYTES, simulate } from './simulator.js';
import type { Dist } from './distributions.js';
import type { LinkSpec } from './netns.js';
import type { UpdateTiming } from './real.js';
import type { Calibration } from './types.js';

/** Rounds the measuring client trains: the first steps of a process are slower (JIT, allocation); more rounds average them out. */
const MEASURE_ROUNDS = 3;

function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The step time with the engine alone: one client (the scenario's first share) training its whole local budget, `MEASURE_ROUNDS` times. */
export async function measureSoloStep(s: Scenario, threads?: number): Promise<number> {
  const st = s.strategy;
  if (isOneShot(st)) throw new SimError('SIM_SCENARIO', `${s.run}: one-shot merging has no rounds to predict`);
  const one: Scenario = {
    ...s,
    strategy: strategyEntry(st.kind).forTrainers(st, { trainers: 1, perEpoch: 1 }).section,
    population: { ...s.population, perRound: 1, availability: undefined, dropout: undefined, attackers: undefined },
    evalEvery: MEASURE_ROUNDS,
    sweep: undefined,
  };
  const r = await simulate(one, { rounds: MEASURE_ROUNDS, threads: threads ?? 1 });
  return r.summary.train_time_s / (MEASURE_ROUNDS * stepsOf(s).steps);
}

function stepsOf(s: Scenario): { steps: number; examplesPerStep: number } {
  const st = s.strategy;
  if (isOneShot(st)) throw new SimError('SIM_SCENARIO', `${s.run}: one-shot merging has no rounds to predict`);
  const share = taskOf(s).share(s.data.shares, 0, s.data.partition, s.seed);
  const local = localTrainingOf({ ...s, strategy: st });
  const steps = tasks.budgetSteps(local.budget, share, s.local.batch);
  return { steps, examplesPerStep: 'steps' in local.budget ? s.local.batch : (share.examples * local.budget.epochs) / steps };
}

/**
 * The calibration from the real run's updates and the trainers' links (`links[i + 1]` is
 * trainer i's, as shapedLinks gives them): versions 2, 4, 6... (version v closes round v).
 * With a single round, that one calibrates (and the comparison says it is in-sample).
 */
export function calibrationOf(s: Scenario, soloStepS: number, updates: readonly UpdateTiming[], links: readonly LinkSpec[]): Calibration {
  const versions = [...new Set(updates.map((u) => u.version))].sort((a, b) => a - b);
  const even = versions.filter((v) => v % 2 === 0);
  const chosen = even.length > 0 ? even : versions;
  const used = updates.filter((u) => chosen.includes(u.version) && u.steps > 0);
  if (used.length === 0) throw new SimError('SIM_RUN', `${s.run}: no trainer delivered an update; nothing to calibrate the prediction with`);
  const slowest = (f: (u: UpdateTiming) => number): number => median(chosen.map((v) => Math.max(0, ...used.filter((u) => u.version === v).map(f))));
  const rate = (mbps: number | null | undefined): number => (mbps === null || mbps === undefined ? Infinity : (mbps * 1e6) / 8);
  const residual = used.map((u) => {
    const l = links[u.trainer + 1];
    const transfers = (u.parameters * 4 + MODEL_HEADER_BYTES) / rate(l?.downlinkMbps) + (u.bytes + UPDATE_HEADER_BYTES) / rate(l?.uplinkMbps);
    return u.pushed_s - transfers - u.train_s - u.encode_s;
  });
  const { steps, examplesPerStep } = stepsOf(s);
  const stepS = slowest((u) => u.train_s / u.steps);
  return {
    versions: chosen,
    solo_step_s: soloStepS,
    step_s: stepS,
    encode_s: slowest((u) => u.encode_s),
    overhead_s: Math.max(0, median(residual)),
    steps,
    examples_per_step: examplesPerStep,
    cores: availableParallelism(),
    trainers: links.length - 1,
    contention: stepS / soloStepS,
  };
}

/**
 * A distribution that always gives `value` but takes the same random draws as `d`: the draws
 * after a client's speed (its links) stay those the shaped run applied.
 */
function constantLike(d: Dist, value: number): Dist {
  switch (d.dist) {
    case 'constant':
      return { dist: 'constant', value };
    case 'uniform':
      return { dist: 'uniform', min: value, max: value };
    case 'lognormal':
      return { dist: 'lognormal', median: value, sigma: 0 };
    case 'pareto-slowdown':
      return { dist: 'pareto-slowdown', value, alpha: Infinity };
  }
}

/**
 * The scenario as the simulator should run it to predict the shaped real run: every client at
 * the calibrated speed (its steps and the encoding, at the daemons' times), the measured
 * overhead as latency (the links themselves add none: it is not applied), and the links as
 * the scenario draws them (the shaped run applies the same draws to its trainers).
 */
export function calibratedScenario(s: Scenario, c: Calibration): Scenario {
  const speed = (c.examples_per_step * c.steps) / (c.steps * c.step_s + c.encode_s);
  return {
    ...s,
    population: { ...s.population, speed: constantLike(s.population.speed, speed), latencyMs: { dist: 'constant', value: (c.overhead_s / 2) * 1000 } },
    sweep: undefined,
  };
}
