/**
 * The run file: one YAML document every process of a run reads (the aggregator and each
 * trainer), naming the model, the data and each trainer's share of it, the codec, the
 * strategy, the limits and who may join. Validated with ajv; every problem is one line that
 * names its path (`strategy.cohort: must be >= 1`).
 */
import { Ajv } from 'ajv';
import { describeSchemaErrors, parseYamlText } from '../schema-errors.js';
import { CODEC_SCHEMA, int, obj, pos, strategySchema } from '../schema-parts.js';
import { DEFAULT_WIRE_LIMITS, createTask, tasks, type CodecOptions, type Task, type WireLimits, type engine } from '@fednode/core';
import { localTrainingOf as strategyLocalTraining, strategyEntry, type StrategySection } from '@fednode/aggregator';
import { DaemonError } from '../runtime/errors.js';
import { ADMISSION_SCHEMA, PARTITION_SCHEMA, TASK_SCHEMA, WIRE_SCHEMA, readRunDocument, wireLimitsFrom, wireProblems, type AdmissionSection, type PartitionSpec, type RunTask } from '../runtime/run-sections.js';

export { PARTITION_SCHEMA, TASK_SCHEMA, readPsk, type PartitionSpec, type RunTask } from '../runtime/run-sections.js';
import { SLICES_SCHEMA, checkSlices, type RunSlices } from './slices.js';


/** Local training of each participant: a budget of epochs or steps, the optimiser and the schedule. */
export interface RunLocal {
  readonly epochs?: number;
  readonly steps?: number;
  readonly batch: number;
  readonly lr: number;
  /** sgd (default for the image tasks) or adamw (default for the transformers). */
  readonly optimizer?: 'sgd' | 'adamw';
  readonly momentum?: number;
  readonly weightDecay?: number;
  /** constant (default) or cosine over the local budget, after warmupSteps. */
  readonly schedule?: 'constant' | 'cosine';
  readonly warmupSteps?: number;
  readonly clipGradNorm?: number;
}

/** A strategy section of any registered kind (`@fednode/aggregator`'s registry says which keys it takes). */
export type RunStrategy = StrategySection;

export interface RunFile {
  readonly mode?: 'federated';
  /** The run id: names the gossip topic, travels in every message, stamps every checkpoint. */
  readonly run: string;
  readonly description?: string;
  /** Seeds the initial model, the partition and every trainer's batch order. */
  readonly seed: number;
  readonly task: RunTask;
  /**
   * A safetensors checkpoint of the run's task that version 0 is (a pretrained base the
   * trainers fine-tune or specialise) instead of the seeded initialisation. Only the
   * aggregator reads it; relative to the run file.
   */
  readonly initialModel?: string;
  readonly data: {
    /** Use the first N training rows (image datasets; default all). */
    readonly trainRows?: number;
    /** The aggregator evaluates each version on the first N test rows or held-out windows (default: the task's own; 0: no evaluation). */
    readonly testRows?: number;
    readonly partition: PartitionSpec;
    /** How many shares the training rows are cut into; a trainer takes one (`--shard` or `assign`). */
    readonly shares: number;
    /** Peer id or trainer name (`--name`) -> share index, for trainers started without `--shard`. */
    readonly assign?: Readonly<Record<string, number>>;
  };
  /** Which sub-network each trainer trains (widths, depth, heads or experts, as the task slices); absent: every trainer trains the whole model. */
  readonly slices?: RunSlices;
  readonly codec: CodecOptions & { readonly errorFeedback?: boolean };
  readonly strategy: RunStrategy;
  /** Versions to make (synchronous rounds that aggregate, or FedBuff versions). */
  readonly rounds: number;
  readonly local: RunLocal;
  readonly limits?: {
    readonly wire?: Partial<WireLimits>;
    /** Longest wait for one network step (dial, frame, answer), seconds (default 30). */
    readonly timeoutS?: number;
    /** How often a trainer asks the aggregator for the open round, besides gossip, seconds (default 2). */
    readonly pollS?: number;
    /** How long the aggregator keeps serving after the last version, seconds (default 3). */
    readonly lingerS?: number;
  };
  /** Who may join; `open`: anyone, said in so many words. */
  readonly admission?: AdmissionSection | 'open';
  readonly network?: {
    /** The aggregator: a multiaddr with /p2p/<id>, or a peer id found through bootstrap peers. */
    readonly aggregator?: string;
    readonly bootstrap?: readonly string[];
    readonly listen?: readonly string[];
    readonly mdns?: boolean;
  };
  /** onnxruntime intra-op threads per process (default 1). */
  readonly threads?: number;
}

const str = { type: 'string', minLength: 1 } as const;

export const LOCAL_SCHEMA = obj(['batch', 'lr'], {
  epochs: int(1),
  steps: int(1),
  batch: int(1),
  lr: pos,
  optimizer: { enum: ['sgd', 'adamw'] },
  momentum: { type: 'number', minimum: 0, maximum: 0.999 },
  weightDecay: { type: 'number', minimum: 0 },
  schedule: { enum: ['constant', 'cosine'] },
  warmupSteps: int(0),
  clipGradNorm: pos,
});

/** The sections of a federated run document, for the schemas built on it (the simulator's scenario). */
export const RUN_REQUIRED = ['run', 'seed', 'task', 'data', 'codec', 'strategy', 'rounds', 'local'] as const;
export const RUN_PROPERTIES = {
  // Optional here: a document without a mode is federated (decentralised ones say so).
  mode: { const: 'federated' },
  run: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
  description: { type: 'string' },
  seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
  task: TASK_SCHEMA,
  initialModel: str,
  data: obj(['partition', 'shares'], {
    trainRows: int(1),
    testRows: int(0),
    partition: PARTITION_SCHEMA,
    shares: int(1),
    assign: { type: 'object', additionalProperties: int(0) },
  }),
  slices: SLICES_SCHEMA,
  codec: CODEC_SCHEMA,
  strategy: strategySchema(),
  rounds: int(1),
  local: LOCAL_SCHEMA,
  limits: obj([], { wire: WIRE_SCHEMA, timeoutS: pos, pollS: pos, lingerS: { type: 'number', minimum: 0 } }),
  admission: ADMISSION_SCHEMA,
  network: obj([], {
    aggregator: str,
    bootstrap: { type: 'array', items: str },
    listen: { type: 'array', items: str },
    mdns: { type: 'boolean' },
  }),
  threads: int(1),
};

export const RUN_FILE_SCHEMA = obj([...RUN_REQUIRED], RUN_PROPERTIES);

/**
 * What a simulator scenario adds to a run document (the simulated population and the
 * simulator's own outputs). A daemon reading a scenario ignores them, so the same file runs
 * on the simulator and on real machines.
 */
export const SIMULATION_KEYS = ['population', 'evalEvery', 'timeBudgetS', 'expect', 'target', 'sweep'] as const;

const ajv = new Ajv({ allErrors: true, strict: true, discriminator: true });
const validate = ajv.compile(RUN_FILE_SCHEMA);

/** Checks a parsed run file against the schema and the rules a schema cannot say. */
export function checkRunFile(value: unknown, source = 'run file'): RunFile {
  if (typeof value === 'object' && value !== null && (value as { mode?: unknown }).mode === 'decentralised') {
    throw new DaemonError('RUN_FILE', `${source} is a decentralised run (mode: decentralised): it has no aggregator or trainers; start each peer with --role peer`);
  }
  const old = oldFormProblems(value);
  if (old.length > 0) throw new DaemonError('RUN_FILE', `${source} is in the old run-file form: ${old.join('; ')}`);
  const doc = withoutSimulation(value);
  if (!validate(doc)) throw new DaemonError('RUN_FILE', `${source} is not a valid run file: ${describeSchemaErrors(validate.errors ?? []).join('; ')}`);
  const r = doc as unknown as RunFile;
  const problems = runDocumentProblems(r);
  if (problems.length > 0) throw new DaemonError('RUN_FILE', `${source}: ${problems.join('; ')}`);
  return r;
}

/** The document without the simulator's sections (a scenario read by a daemon). */
function withoutSimulation(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const k of SIMULATION_KEYS) delete out[k];
  return out;
}

/** The part of a federated document the rules below read (a run file or a scenario). */
export type RunDocumentCore = Omit<RunFile, 'strategy'> & { readonly strategy: { readonly kind: string; readonly robust?: unknown; readonly dp?: unknown } };

/**
 * The rules a schema cannot say, for any federated document: the task against the registry,
 * the shares, the slices, the wire limits, and (`strategy`) the registered strategy's own
 * checks. One line a problem, each naming its path.
 */
export function runDocumentProblems(r: RunDocumentCore, strategy: { readonly section: StrategySection; readonly perEpoch?: { readonly count: number; readonly setting: string } } | null = { section: r.strategy as StrategySection }): string[] {
  const problems: string[] = [];
  const taskIssues = taskProblems(r);
  problems.push(...taskIssues);
  if (strategy !== null) {
    const entry = strategyEntry(strategy.section.kind);
    problems.push(...entry.check(strategy.section, { path: 'strategy', ...(strategy.perEpoch === undefined ? {} : { perEpoch: strategy.perEpoch }) }));
    if (entry.versions !== undefined && r.rounds !== entry.versions) problems.push(`rounds ${r.rounds}: a ${entry.kind} run makes ${entry.versions} version${entry.versions === 1 ? '' : 's'}, set rounds: ${entry.versions}`);
  }
  if (r.data.trainRows !== undefined && r.data.trainRows < r.data.shares) problems.push(`data.trainRows ${r.data.trainRows} leaves some of the ${r.data.shares} shares empty`);
  for (const [peer, i] of Object.entries(r.data.assign ?? {})) if (i >= r.data.shares) problems.push(`data.assign.${peer}: share ${i} is not below data.shares ${r.data.shares}`);
  if (taskIssues.length === 0) checkSlices(r, taskOf(r), problems);
  problems.push(...wireProblems(r.limits));
  return problems;
}

/** What to change in a run file written before tasks (top-level `model`, `data.dataset`). */
export function oldFormProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const v = value as { model?: unknown; data?: { dataset?: unknown }; task?: unknown };
  if (v.model === undefined || v.task !== undefined) return [];
  const name = v.model === 'mlp-supernet' ? 'mlp' : String(v.model);
  const dataset = typeof v.data?.dataset === 'string' ? v.data.dataset : '<dataset>';
  return [`replace "model: ${String(v.model)}" and "data.dataset: ${dataset}" with "task: { name: ${name}, dataset: ${dataset} }"${v.model === 'mlp-supernet' ? ' (the mlp task is the supernet: its slices are widths and depths)' : ''}`];
}

/** The task, its partition, model sizes, local budget and slices checked against the registry. */
function taskProblems(r: RunDocumentCore): string[] {
  const out: string[] = [];
  const f = tasks.TASKS.get(r.task.name)!;
  if (!f.datasets.includes(r.task.dataset)) out.push(`task.dataset: ${r.task.name} trains on ${f.datasets.join(' or ')}, not ${r.task.dataset}`);
  const sizes = (f.modelSchema as { properties: Record<string, unknown> }).properties;
  for (const k of Object.keys(r.task.model ?? {})) if (!(k in sizes)) out.push(`task.model: unknown key "${k}" for ${r.task.name} (${Object.keys(sizes).join(', ') || 'it has no sizes'})`);
  if ((r.local.epochs === undefined) === (r.local.steps === undefined)) out.push('local: give epochs or steps (one of them)');
  if (out.length > 0) return out;
  let task: Task;
  try {
    task = taskOf(r);
  } catch (e) {
    return [`task: ${(e as Error).message}`];
  }
  if (!task.partitions.includes(r.data.partition.kind)) out.push(`data.partition: ${r.task.name} on ${r.task.dataset} has ${task.partitions.join(', ')}, not ${r.data.partition.kind}`);
  if (r.data.trainRows !== undefined && task.kind !== 'image') out.push(`data.trainRows applies to image datasets, not ${r.task.dataset}`);
  return out;
}

/** The sections a task is made from. */
export interface TaskSections {
  readonly task: RunTask;
  readonly data: { readonly trainRows?: number };
}

const taskCache = new WeakMap<TaskSections, Task>();

/** The run's task (made once per document). */
export function taskOf(run: TaskSections): Task {
  let t = taskCache.get(run);
  if (t === undefined) {
    t = createTask(run.task.name, { dataset: run.task.dataset, ...(run.task.model === undefined ? {} : { model: run.task.model }), ...(run.data.trainRows === undefined ? {} : { trainRows: run.data.trainRows }) });
    taskCache.set(run, t);
  }
  return t;
}

/** What a trainer's local loop needs from the run file: the optimiser, budget and schedule, with the task's defaults. */
export interface RunLocalTraining {
  readonly optimizer: engine.OptimizerSpec;
  readonly budget: tasks.TrainingBudget;
  readonly schedule: engine.LrScheduleSpec;
  readonly clipGradNorm?: number;
  /** FedProx's mu, when the strategy asks trainers for a proximal term. */
  readonly proximalMu?: number;
  /** Send what was trained by the round's deadline rather than miss it (FedProx's partial work). */
  readonly partialWork?: boolean;
  /** Start from the trainer's own seeded initialisation, not the pulled model (one-shot merging with differentInit). */
  readonly ownInit?: boolean;
}

export function localTrainingOf(run: TaskSections & { readonly local: RunLocal; readonly strategy: StrategySection }): RunLocalTraining {
  const l = run.local;
  const d = taskOf(run).defaults;
  const kind = l.optimizer ?? d.optimizer.kind;
  const optimizer: engine.OptimizerSpec = kind === 'sgd' ? { kind: 'sgd', momentum: l.momentum ?? 0 } : { kind: 'adamw', weightDecay: l.weightDecay ?? 0.01 };
  const clip = l.clipGradNorm ?? (kind === d.optimizer.kind ? d.clipGradNorm : undefined);
  const { proximalMu, partialWork, ownInit } = strategyLocalTraining(run.strategy);
  return {
    optimizer,
    budget: l.steps !== undefined ? { steps: l.steps } : { epochs: l.epochs ?? 1 },
    schedule: { kind: l.schedule ?? 'constant', warmupSteps: l.warmupSteps ?? 0 },
    ...(clip === undefined ? {} : { clipGradNorm: clip }),
    ...(proximalMu === undefined ? {} : { proximalMu }),
    ...(partialWork === true ? { partialWork } : {}),
    ...(ownInit === true ? { ownInit } : {}),
  };
}

export function runFileFromYaml(text: string, source = 'run file'): RunFile {
  const value = parseYamlText(text, source, (m) => new DaemonError('RUN_FILE', m));
  return checkRunFile(value, source);
}

/** A loaded run file and where it came from (relative paths inside it resolve against its directory). */
export interface LoadedRunFile {
  readonly run: RunFile;
  readonly baseDir: string;
}

export function loadRunFile(path: string): LoadedRunFile {
  const doc = readRunDocument(path);
  return { run: checkRunFile(doc.value, path), baseDir: doc.baseDir };
}

/** The run's wire limits: the defaults with the run file's overrides. */
export function wireLimitsOf(run: RunFile): WireLimits {
  return wireLimitsFrom(run.limits);
}

export function timeoutMsOf(run: RunFile): number {
  return Math.round((run.limits?.timeoutS ?? 30) * 1000);
}

