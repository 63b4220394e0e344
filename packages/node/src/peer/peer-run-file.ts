/**
 * The run file of a decentralised run (`mode: decentralised`): no aggregator; every peer
 * trains the character transformer on its share of the SOTU speakers and synchronises with
 * DeMo (every step) or DiLoCo (every H inner steps) over gossip. Validated with ajv; every
 * problem is one line naming its path.
 */
import { Ajv } from 'ajv';
import type { WireLimits } from '@fednode/core';
import { describeSchemaErrors } from '../schema-errors.js';
import { int, obj, pos } from '../schema-parts.js';
import { DaemonError } from '../runtime/errors.js';
import { ADMISSION_SCHEMA, PARTITION_SCHEMA, TASK_SCHEMA, WIRE_SCHEMA, admissionProblems, readRunDocument, wireLimitsFrom, wireProblems, type AdmissionSection, type PartitionSpec, type RunTask } from '../runtime/run-sections.js';
import { tasks } from '@fednode/core';
import type { PeerRoleSettings } from './settings.js';
import { syncSteps } from './sync-steps.js';

export interface DemoSection {
  readonly beta?: number;
  readonly topk?: number;
  readonly topk1d?: number;
  readonly chunk?: number;
  readonly values?: 'fp16' | 'sign';
  readonly weightDecay?: number;
}

export interface DilocoSection {
  /** Inner AdamW steps between synchronisations (H). */
  readonly innerSteps: number;
  readonly outerLr?: number;
  readonly outerMomentum?: number;
  /**
   * How pseudo-gradients travel (default int8). int4 halves the bytes of an outer step, so the
   * same traffic per inner step allows half the inner steps (docs/decentralised.md).
   */
  readonly codec?: 'int8' | 'int4';
  /** Block size of the pseudo-gradients' scales (default 256). */
  readonly blockSize?: number;
  readonly errorFeedback?: boolean;
  /**
   * The last outer step moves θ to the peers' average model instead of a Nesterov step
   * (default true): the momentum's look-ahead overshoots once training stops.
   */
  readonly finalAverage?: boolean;
  readonly weightDecay?: number;
}

export interface PeerRunFile {
  readonly run: string;
  readonly mode: 'decentralised';
  readonly description?: string;
  readonly seed: number;
  /** What every peer trains: a registered task (every peer trains its whole model). */
  readonly task: RunTask;
  /**
   * A checkpoint of the task every peer starts from instead of the seeded initialisation (a
   * pretrained model, as DiLoCo starts from); relative to the run file. Every peer must hold
   * the same bytes: the first hash checkpoint tells.
   */
  readonly initialModel?: string;
  readonly data: {
    /** How the training data is cut into shares (SOTU natural: president i in share i mod shares); a peer takes one with --shard. */
    readonly partition: PartitionSpec;
    readonly shares: number;
    /** Held-out samples scored at checkpoints and at the end (default 2048). */
    readonly evalSamples?: number;
  };
  readonly sync: {
    readonly algorithm: 'demo' | 'diloco';
    /** Total inner training steps (DeMo synchronises at each; DiLoCo every innerSteps). */
    readonly steps: number;
    /** Sequences per peer per step. */
    readonly batch: number;
    /** Peak learning rate (DeMo's sign step, DiLoCo's inner AdamW); linear warm-up then cosine to lr·minLrFraction. */
    readonly lr: number;
    readonly warmupSteps?: number;
    readonly minLrFraction?: number;
    /** Peers that must be present before step 0 (default 1: start alone). */
    readonly minPeers?: number;
    /** How long a peer waits for the others' contributions to a step before dropping the missing ones, seconds (default 10). */
    readonly timeoutS?: number;
    /** Publish (and compare) a parameter hash every this many synchronisation steps (default 10). */
    readonly hashEvery?: number;
    /** Evaluate on the held-out samples every this many synchronisation steps (default: only at the end). */
    readonly evalEvery?: number;
    readonly demo?: DemoSection;
    readonly diloco?: DilocoSection;
  };
  readonly limits?: { readonly wire?: Partial<WireLimits>; readonly timeoutS?: number; readonly lingerS?: number };
  /** Who may join; `open`: anyone, said in so many words (required: a decentralised run names its admission). */
  readonly admission?: AdmissionSection | 'open';
  readonly network?: { readonly bootstrap?: readonly string[]; readonly listen?: readonly string[]; readonly mdns?: boolean };
  readonly threads?: number;
}

const str = { type: 'string', minLength: 1 } as const;

export const PEER_RUN_FILE_SCHEMA = obj(['run', 'mode', 'seed', 'task', 'data', 'sync'], {
  run: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
  mode: { const: 'decentralised' },
  description: { type: 'string' },
  seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
  task: TASK_SCHEMA,
  initialModel: str,
  data: obj(['partition', 'shares'], { partition: PARTITION_SCHEMA, shares: int(1), evalSamples: int(1) }),
  sync: obj(['algorithm', 'steps', 'batch', 'lr'], {
    algorithm: { enum: ['demo', 'diloco'] },
    steps: int(1),
    batch: int(1),
    lr: pos,
    warmupSteps: int(0),
    minLrFraction: { type: 'number', minimum: 0, maximum: 1 },
    minPeers: int(1),
    timeoutS: pos,
    hashEvery: int(1),
    evalEvery: int(1),
    demo: obj([], {
      beta: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
      topk: int(1),
      topk1d: int(1),
      chunk: { type: 'integer', minimum: 1, maximum: 256 },
      values: { enum: ['fp16', 'sign'] },
      weightDecay: { type: 'number', minimum: 0 },
    }),
    diloco: obj(['innerSteps'], {
      innerSteps: int(1),
      outerLr: pos,
      outerMomentum: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
      codec: { enum: ['int8', 'int4'] },
      blockSize: { type: 'integer', minimum: 32, maximum: 4096 },
      errorFeedback: { type: 'boolean' },
      finalAverage: { type: 'boolean' },
      weightDecay: { type: 'number', minimum: 0 },
    }),
  }),
  limits: obj([], { wire: WIRE_SCHEMA, timeoutS: pos, lingerS: { type: 'number', minimum: 0 } }),
  admission: ADMISSION_SCHEMA,
  network: obj([], { bootstrap: { type: 'array', items: str }, listen: { type: 'array', items: str }, mdns: { type: 'boolean' } }),
  threads: int(1),
});

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(PEER_RUN_FILE_SCHEMA);

/** What to change in a decentralised run file written before tasks (`model: { kind, sizes }`, `data.dataset`). */
function oldPeerForm(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { model?: { kind?: unknown } & Record<string, unknown>; data?: { dataset?: unknown }; task?: unknown };
  if (v.model === undefined || v.task !== undefined) return null;
  const { kind, ...sizes } = v.model;
  const dataset = typeof v.data?.dataset === 'string' ? v.data.dataset : 'sotu';
  const model = Object.entries(sizes).map(([k, x]) => `${k}: ${String(x)}`).join(', ');
  return `replace "model: { kind: ${String(kind)}, ... }" and "data.dataset: ${dataset}" with "task: { name: ${String(kind)}, dataset: ${dataset}, model: { ${model} } }" and add "data.partition: { kind: natural }"`;
}

export function checkPeerRunFile(value: unknown, source = 'run file'): PeerRunFile {
  const old = oldPeerForm(value);
  if (old !== null) throw new DaemonError('RUN_FILE', `${source} is in the old decentralised run-file form: ${old}`);
  if (!validate(value)) throw new DaemonError('RUN_FILE', `${source} is not a valid decentralised run file: ${describeSchemaErrors(validate.errors ?? []).join('; ')}`);
  const r = value as unknown as PeerRunFile;
  const problems: string[] = admissionProblems(value as object);
  const s = r.sync;
  if (s.algorithm === 'diloco' && s.diloco === undefined) problems.push('sync.diloco (with innerSteps) is required for algorithm diloco');
  if (s.algorithm === 'demo' && s.diloco !== undefined) problems.push('sync.diloco is set but sync.algorithm is demo');
  if (s.algorithm === 'diloco' && s.demo !== undefined) problems.push('sync.demo is set but sync.algorithm is diloco');
  problems.push(...wireProblems(r.limits));
  if (s.diloco !== undefined && s.steps < s.diloco.innerSteps) problems.push(`sync.steps ${s.steps} is fewer than one outer step of ${s.diloco.innerSteps}`);
  const f = tasks.TASKS.get(r.task.name)!;
  if (!f.datasets.includes(r.task.dataset)) problems.push(`task.dataset: ${r.task.name} trains on ${f.datasets.join(' or ')}, not ${r.task.dataset}`);
  else {
    try {
      const t = tasks.createTask(r.task.name, { dataset: r.task.dataset, ...(r.task.model === undefined ? {} : { model: r.task.model }) });
      if (!t.partitions.includes(r.data.partition.kind)) problems.push(`data.partition: ${r.task.name} on ${r.task.dataset} has ${t.partitions.join(', ')}, not ${r.data.partition.kind}`);
    } catch (e) {
      problems.push(`task: ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) throw new DaemonError('RUN_FILE', `${source}: ${problems.join('; ')}`);
  return r;
}

/** True when a parsed YAML document is a decentralised run (so `fednode start` picks the peer role's schema). */
export function isDecentralised(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { mode?: unknown }).mode === 'decentralised';
}

export function loadPeerRunFile(path: string): { run: PeerRunFile; baseDir: string } {
  const doc = readRunDocument(path);
  return { run: checkPeerRunFile(doc.value, path), baseDir: doc.baseDir };
}

export function peerWireLimits(run: PeerRunFile): WireLimits {
  return wireLimitsFrom(run.limits);
}

/** The run's peer settings in numbers, with their defaults: what every peer of the run steps by. */
export function peerRoleSettings(run: PeerRunFile): PeerRoleSettings {
  return {
    runId: run.run,
    steps: syncSteps(run),
    timeoutMs: Math.round((run.sync.timeoutS ?? 10) * 1000),
    minPeers: run.sync.minPeers ?? 1,
    hashEvery: run.sync.hashEvery ?? 10,
    evalEvery: run.sync.evalEvery ?? null,
    lingerMs: Math.round((run.limits?.lingerS ?? 3) * 1000),
  };
}
