/**
 * A simulator scenario is a federated run document (the one `fednode start` reads) plus the
 * simulated population: the clients' speeds, links, availability, dropout and attackers, and
 * what the simulator reports (evaluation cadence, target, expected outcome, sweep variants).
 * The same file runs on the simulator and, unchanged, on real daemons, which ignore the
 * simulation sections.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describeSchemaErrors, parseYamlText } from '../schema-errors.js';
import { CODEC_SCHEMA, num, obj, pos, prob, strategySchema } from '../schema-parts.js';
import { ONESHOT_PROPERTIES, type OneShotSection, type StrategySection } from '@fednode/aggregator';
import { RUN_PROPERTIES, RUN_REQUIRED, runDocumentProblems, taskOf, type RunFile } from '../daemon/run-file.js';
import { DIST_SCHEMA, type Dist } from './distributions.js';
import { SimError } from './errors.js';

/**
 * One-shot merging. The simulator trains every client once and compares every merge method
 * (its own keys below); daemons merge once with `method` (the aggregator's oneshot section,
 * whose keys a scenario also takes, so one document can be both).
 */
export interface OneShotSpec extends Partial<Omit<OneShotSection, 'kind'>> {
  readonly kind: 'oneshot';
  /** TIES density (default 0.2) and DARE drop rate (default 0.5). */
  readonly density?: number;
  readonly dropRate?: number;
  /** Scale of the merged task vector for task arithmetic, TIES and DARE (default 1). */
  readonly lambda?: number;
  /** Also train two models from different initialisations and compare plain averaging with weight matching first. */
  readonly differentInit?: boolean;
}

export type AttackKind = 'sign-flip' | 'scaling' | 'noise' | 'label-flip' | 'free-rider';

export interface AttackSpec {
  readonly kind: AttackKind;
  /** Share of the population that attacks (the first clients of a seeded shuffle). */
  readonly fraction: number;
  /** sign-flip / scaling: the factor; noise: the standard deviation. */
  readonly factor?: number;
}

/** The simulated clients: client i holds data share i (`data.shares` clients in all). */
export interface PopulationSpec {
  /**
   * Clients sampled per synchronous round, or kept in flight by a continuous strategy
   * (FedBuff). Default: the strategy's cohort.
   */
  readonly perRound?: number;
  /** Local training speed, examples per second (text: sequences). */
  readonly speed: Dist;
  readonly uplinkMbps: Dist;
  readonly downlinkMbps: Dist;
  readonly latencyMs: Dist;
  /** Probability of being online when sampled, or an on/off schedule with a random phase per client. */
  readonly availability?: number | { readonly onS: number; readonly offS: number };
  /** Probability that a dispatched client never reports back. */
  readonly dropout?: number;
  readonly attackers?: AttackSpec;
}

/** A registered strategy's section (see @fednode/aggregator's registry), or the simulator's own one-shot merging. */
export type StrategySpec = StrategySection | OneShotSpec;

export function isOneShot(s: StrategySpec): s is OneShotSpec {
  return s.kind === 'oneshot';
}

export interface Expectation {
  readonly minFinalAccuracy?: number;
  /** The final held-out loss must be at most this. */
  readonly maxFinalLoss?: number;
  readonly maxVirtualTimeS?: number;
  readonly maxBytesUp?: number;
  /** The target accuracy must be reached (see `target`). */
  readonly reachTarget?: boolean;
}

export interface Scenario extends Omit<RunFile, 'strategy'> {
  readonly strategy: StrategySpec;
  readonly population: PopulationSpec;
  /** Stop once virtual time passes this many seconds. */
  readonly timeBudgetS?: number;
  /** Evaluate every N rounds (default 1; the last round always). */
  readonly evalEvery?: number;
  /** The outcome the scenario promises; `--check` fails the run when it is not met. */
  readonly expect?: Expectation;
  /** Variants run side by side (one report table), each overriding strategy, codec and/or attackers. */
  readonly sweep?: readonly {
    readonly label: string;
    readonly strategy?: StrategySpec;
    readonly codec?: Scenario['codec'];
    /** Attackers for this variant; `none` for a clean run. */
    readonly attackers?: AttackSpec | 'none';
    /** This variant's expected outcome (replaces the scenario's). */
    readonly expect?: Expectation;
  }[];
  /** An accuracy whose first crossing the summary reports (virtual time and bytes to reach it). */
  readonly target?: { readonly accuracy: number };
}

// The daemons' oneshot keys, all optional here, plus what the simulator's comparison takes.
const ONESHOT = obj(['kind'], { kind: { const: 'oneshot' }, ...ONESHOT_PROPERTIES, density: prob, dropRate: { type: 'number', minimum: 0, exclusiveMaximum: 1 }, lambda: pos });
const STRATEGY = strategySchema({}, [ONESHOT]);
const EXPECT = obj([], { minFinalAccuracy: prob, maxFinalLoss: pos, maxVirtualTimeS: pos, maxBytesUp: pos, reachTarget: { type: 'boolean' } });
const ATTACKERS = obj(['kind', 'fraction'], { kind: { enum: ['sign-flip', 'scaling', 'noise', 'label-flip', 'free-rider'] }, fraction: prob, factor: num });

export const POPULATION_SCHEMA = obj(['speed', 'uplinkMbps', 'downlinkMbps', 'latencyMs'], {
  perRound: { type: 'integer', minimum: 1 },
  speed: DIST_SCHEMA,
  uplinkMbps: DIST_SCHEMA,
  downlinkMbps: DIST_SCHEMA,
  latencyMs: DIST_SCHEMA,
  availability: { oneOf: [prob, obj(['onS', 'offS'], { onS: pos, offS: { type: 'number', minimum: 0 } })] },
  dropout: prob,
  attackers: ATTACKERS,
});

export const SCENARIO_SCHEMA = obj([...RUN_REQUIRED, 'population'], {
  ...RUN_PROPERTIES,
  strategy: STRATEGY,
  population: POPULATION_SCHEMA,
  timeBudgetS: pos,
  evalEvery: { type: 'integer', minimum: 1 },
  expect: EXPECT,
  target: obj(['accuracy'], { accuracy: prob }),
  sweep: {
    type: 'array',
    minItems: 1,
    items: obj(['label'], { label: { type: 'string', minLength: 1 }, strategy: STRATEGY, codec: CODEC_SCHEMA, attackers: { oneOf: [{ const: 'none' }, ATTACKERS] }, expect: EXPECT }),
  },
});

const ajv = new Ajv({ allErrors: true, strict: true, discriminator: true });
const validate = ajv.compile(SCENARIO_SCHEMA);

/** What to change in a scenario written before scenarios were run documents (one clause per old key). */
export function oldScenarioForm(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const v = value as Record<string, unknown> & { clients?: Record<string, unknown>; dataset?: Record<string, unknown> };
  if (v.clients === undefined && v.model === undefined && v.dataset === undefined && v.name === undefined) return [];
  const out: string[] = [];
  if (v.name !== undefined) out.push(`rename "name" to "run"`);
  if (v.model !== undefined || v.dataset !== undefined) {
    const model = v.model === 'mlp-supernet' ? 'mlp' : String(v.model ?? '<task>');
    out.push(`replace "model: ${String(v.model)}" and "dataset.name" with "task: { name: ${model}, dataset: ${String(v.dataset?.name ?? '<dataset>')} }" (the transformer's sizes go under task.model)`);
    out.push('move dataset.partition, dataset.trainRows and dataset.testRows under "data", with "data.shares: <clients.count>"');
  }
  if (v.clients !== undefined) {
    out.push('move clients.speed, uplinkMbps, downlinkMbps, latencyMs, availability and dropout under "population"');
    out.push('clients.perRound becomes strategy.cohort (fedavg, fedprox) or population.perRound (clients in flight for fedbuff)');
    if (v.clients.widths !== undefined) out.push('clients.widths becomes "slices: { byShare: [{ width: 1 }, { width: 0.5 }, ...] }"');
    if (v.clients.expertsPerClient !== undefined) out.push('clients.expertsPerClient becomes "slices: { byShare: [{ experts: [0, 1] }, ...] }"');
  }
  if (v.attackers !== undefined) out.push('move attackers under population');
  if (v.transformer !== undefined) out.push('transformer becomes task.model (seqLen, dModel, heads, headDim, ffDim, layers, experts, topK)');
  return out;
}

/** Clients dispatched per round (or in flight): population.perRound, else the strategy's cohort. */
export function perRoundOf(s: Scenario): number {
  const cohort = isOneShot(s.strategy) ? undefined : (s.strategy as { readonly cohort?: number }).cohort;
  return s.population.perRound ?? cohort ?? s.data.shares;
}

/** Checks a parsed scenario against the schema and the rules a schema cannot say. */
export function checkScenario(value: unknown, source = 'scenario'): Scenario {
  if (typeof value === 'object' && value !== null && (value as { mode?: unknown }).mode === 'decentralised') {
    throw new SimError('SIM_SCENARIO', `${source} is a decentralised run (mode: decentralised): the simulator runs federated documents; start its peers with fednode start --role peer`);
  }
  if (typeof value === 'object' && value !== null && !('population' in value) && 'run' in value) {
    throw new SimError('SIM_SCENARIO', `${source} is a run document without a population: a scenario adds "population: { speed, uplinkMbps, downlinkMbps, latencyMs }" (see docs/run-document.md)`);
  }
  const old = oldScenarioForm(value);
  if (old.length > 0) throw new SimError('SIM_SCENARIO', `${source} is in the old scenario form (a scenario is now a run document plus a population): ${old.join('; ')}`);
  if (!validate(value)) throw new SimError('SIM_SCENARIO', `${source} is not a valid scenario: ${describeSchemaErrors(validate.errors ?? []).join('; ')}`);
  const s = value as unknown as Scenario;
  const problems: string[] = [];
  const perRound = perRoundOf(s);
  if (perRound > s.data.shares) problems.push(`${s.population.perRound === undefined ? 'strategy.cohort' : 'population.perRound'} ${perRound} is more than the ${s.data.shares} clients (data.shares)`);
  // Sampling `perRound` clients is what tells a round-paced strategy its cohort here.
  const perEpoch = { count: perRound, setting: s.population.perRound === undefined ? 'strategy.cohort' : 'population.perRound' };
  problems.push(...runDocumentProblems(s, isOneShot(s.strategy) ? null : { section: s.strategy, perEpoch }));
  (s.sweep ?? []).forEach((v, i) => {
    if (v.strategy !== undefined && !isOneShot(v.strategy)) {
      problems.push(...runDocumentProblems({ ...s, strategy: v.strategy }, { section: v.strategy, perEpoch }).map((p) => `sweep[${i}]: ${p}`));
    }
  });
  const p = s.population;
  for (const [k, d] of Object.entries({ speed: p.speed, uplinkMbps: p.uplinkMbps, downlinkMbps: p.downlinkMbps })) {
    if ((d.dist === 'constant' && d.value <= 0) || (d.dist === 'uniform' && (d.min <= 0 || d.max < d.min))) problems.push(`population.${k}: values must be > 0 (and max >= min)`);
  }
  const flips = [p.attackers, ...(s.sweep ?? []).map((v) => v.attackers)].some((a) => typeof a === 'object' && a.kind === 'label-flip');
  if (flips && problems.length === 0 && taskOf(s).classes === null) problems.push(`population.attackers: label-flip attackers need an image task; ${s.task.name} on ${s.task.dataset} has no labels`);
  if (isOneShot(s.strategy) && s.slices !== undefined) problems.push('one-shot merging trains whole models: remove slices');
  if (s.expect?.reachTarget && s.target === undefined) problems.push('expect.reachTarget needs a target');
  if (problems.length > 0) throw new SimError('SIM_SCENARIO', `${source}: ${[...new Set(problems)].join('; ')}`);
  return s;
}

/** A scenario from YAML text; `source` names it in errors. */
export function scenarioFromYaml(text: string, source = 'scenario'): Scenario {
  const value = parseYamlText(text, source, (m) => new SimError('SIM_SCENARIO', m));
  return checkScenario(value, source);
}

export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SimError('SIM_SCENARIO', `cannot read scenario ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return scenarioFromYaml(text, path);
}
