/**
 * The run file: one YAML document every process of a run reads (the aggregator and each
 * trainer), naming the model, the data and each trainer's share of it, the codec, the
 * strategy, the limits and who may join. Validated with ajv; every problem is one line that
 * names its path (`strategy.cohort: must be >= 1`).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { describeSchemaErrors, parseYamlText } from '../schema-errors.js';
import { CODEC_SCHEMA, int, obj, pos, strategySchema } from '../schema-parts.js';
import { DEFAULT_WIRE_LIMITS, type CodecOptions, type WireLimits } from '@fednode/core';
import { strategyEntry, type StrategySection } from '@fednode/aggregator';
import { DaemonError } from './errors.js';
import { SLICES_SCHEMA, checkSlices, type RunSlices } from './slices.js';

export type PartitionSpec = { readonly kind: 'iid' } | { readonly kind: 'dirichlet'; readonly alpha: number } | { readonly kind: 'shards'; readonly perClient?: number };

/** A strategy section of any registered kind (`@fednode/aggregator`'s registry says which keys it takes). */
export type RunStrategy = StrategySection;

export interface RunFile {
  /** The run id: names the gossip topic, travels in every message, stamps every checkpoint. */
  readonly run: string;
  readonly description?: string;
  /** Seeds the initial model, the partition and every trainer's batch order. */
  readonly seed: number;
  /** `mlp`: the 784-200-200-10 MLP, trained whole. `mlp-supernet`: the same MLP as a supernet whose sub-networks `slices` hands out. */
  readonly model: 'mlp' | 'mlp-supernet';
  readonly data: {
    readonly dataset: 'mnist' | 'fashion-mnist';
    /** Use the first N training rows (default all). */
    readonly trainRows?: number;
    /** The aggregator evaluates each version on the first N test rows (default all; 0: no evaluation). */
    readonly testRows?: number;
    readonly partition: PartitionSpec;
    /** How many shares the training rows are cut into; a trainer takes one (`--shard` or `assign`). */
    readonly shares: number;
    /** Peer id or trainer name (`--name`) -> share index, for trainers started without `--shard`. */
    readonly assign?: Readonly<Record<string, number>>;
  };
  /** Which sub-network each trainer trains (model mlp-supernet); absent: every trainer trains the whole model. */
  readonly slices?: RunSlices;
  readonly codec: CodecOptions & { readonly errorFeedback?: boolean };
  readonly strategy: RunStrategy;
  /** Versions to make (synchronous rounds that aggregate, or FedBuff versions). */
  readonly rounds: number;
  readonly local: { readonly epochs: number; readonly batch: number; readonly lr: number; readonly momentum?: number };
  readonly limits?: {
    readonly wire?: Partial<WireLimits>;
    /** Longest wait for one network step (dial, frame, answer), seconds (default 30). */
    readonly timeoutS?: number;
    /** How often a trainer asks the aggregator for the open round, besides gossip, seconds (default 2). */
    readonly pollS?: number;
    /** How long the aggregator keeps serving after the last version, seconds (default 3). */
    readonly lingerS?: number;
  };
  readonly admission?: {
    /** Peer ids allowed to push, pull and gossip; absent: anyone (who knows the key, when one is set). */
    readonly allow?: readonly string[];
    /** The pre-shared key: a file (relative to the run file) or an environment variable. */
    readonly psk?: { readonly file: string } | { readonly env: string };
  };
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
const WIRE = obj([], {
  maxMessageBytes: int(1024),
  maxTensorBytes: int(1),
  maxTotalBytes: int(1),
  maxTensors: int(1),
  maxDims: int(1),
  maxStringBytes: int(64),
  maxMetrics: int(0),
  maxSliceIndices: int(1),
});

export const RUN_FILE_SCHEMA = obj(['run', 'seed', 'model', 'data', 'codec', 'strategy', 'rounds', 'local'], {
  run: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
  description: { type: 'string' },
  seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
  model: { enum: ['mlp', 'mlp-supernet'] },
  data: obj(['dataset', 'partition', 'shares'], {
    dataset: { enum: ['mnist', 'fashion-mnist'] },
    trainRows: int(1),
    testRows: int(0),
    partition: {
      oneOf: [obj(['kind'], { kind: { const: 'iid' } }), obj(['kind', 'alpha'], { kind: { const: 'dirichlet' }, alpha: pos }), obj(['kind'], { kind: { const: 'shards' }, perClient: int(1) })],
    },
    shares: int(1),
    assign: { type: 'object', additionalProperties: int(0) },
  }),
  slices: SLICES_SCHEMA,
  codec: CODEC_SCHEMA,
  strategy: strategySchema(),
  rounds: int(1),
  local: obj(['epochs', 'batch', 'lr'], { epochs: int(1), batch: int(1), lr: pos, momentum: { type: 'number', minimum: 0, maximum: 0.999 } }),
  limits: obj([], { wire: WIRE, timeoutS: pos, pollS: pos, lingerS: { type: 'number', minimum: 0 } }),
  admission: obj([], {
    allow: { type: 'array', items: str, uniqueItems: true },
    psk: { oneOf: [obj(['file'], { file: str }), obj(['env'], { env: str })] },
  }),
  network: obj([], {
    aggregator: str,
    bootstrap: { type: 'array', items: str },
    listen: { type: 'array', items: str },
    mdns: { type: 'boolean' },
  }),
  threads: int(1),
});

const ajv = new Ajv({ allErrors: true, strict: true, discriminator: true });
const validate = ajv.compile(RUN_FILE_SCHEMA);

/** Checks a parsed run file against the schema and the rules a schema cannot say. */
export function checkRunFile(value: unknown, source = 'run file'): RunFile {
  if (typeof value === 'object' && value !== null && (value as { mode?: unknown }).mode === 'decentralised') {
    throw new DaemonError('RUN_FILE', `${source} is a decentralised run (mode: decentralised): it has no aggregator or trainers; start each peer with --role peer`);
  }
  if (!validate(value)) throw new DaemonError('RUN_FILE', `${source} is not a valid run file: ${describeSchemaErrors(validate.errors ?? []).join('; ')}`);
  const r = value as unknown as RunFile;
  const problems: string[] = [];
  problems.push(...strategyEntry(r.strategy.kind).check(r.strategy, { path: 'strategy' }));
  if (r.data.trainRows !== undefined && r.data.trainRows < r.data.shares) problems.push(`data.trainRows ${r.data.trainRows} leaves some of the ${r.data.shares} shares empty`);
  for (const [peer, i] of Object.entries(r.data.assign ?? {})) if (i >= r.data.shares) problems.push(`data.assign.${peer}: share ${i} is not below data.shares ${r.data.shares}`);
  checkSlices(r, problems);
  const wire = r.limits?.wire;
  if (wire?.maxMessageBytes !== undefined && wire.maxMessageBytes < 64 * 1024) problems.push(`limits.wire.maxMessageBytes ${wire.maxMessageBytes} is under 64 KiB: headers would not fit`);
  if (problems.length > 0) throw new DaemonError('RUN_FILE', `${source}: ${problems.join('; ')}`);
  return r;
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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DaemonError('RUN_FILE', `cannot read run file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { run: runFileFromYaml(text, path), baseDir: dirname(resolve(path)) };
}

/** The run's wire limits: the defaults with the run file's overrides. */
export function wireLimitsOf(run: RunFile): WireLimits {
  return { ...DEFAULT_WIRE_LIMITS, ...(run.limits?.wire ?? {}) };
}

export function timeoutMsOf(run: RunFile): number {
  return Math.round((run.limits?.timeoutS ?? 30) * 1000);
}

/** The pre-shared key named by the run file, read from its file or variable; undefined when none. */
export function readPsk(run: Pick<RunFile, 'admission'>, baseDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const psk = run.admission?.psk;
  if (psk === undefined) return undefined;
  let key: string | undefined;
  if ('file' in psk) {
    const p = isAbsolute(psk.file) ? psk.file : resolve(baseDir, psk.file);
    try {
      key = readFileSync(p, 'utf8').trim();
    } catch (e) {
      throw new DaemonError('RUN_FILE', `admission.psk.file: cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else {
    key = env[psk.env]?.trim();
    if (key === undefined || key === '') throw new DaemonError('RUN_FILE', `admission.psk.env: the environment variable ${psk.env} is not set`);
  }
  if (Buffer.byteLength(key, 'utf8') < 16) throw new DaemonError('RUN_FILE', `admission.psk: the key has ${Buffer.byteLength(key, 'utf8')} bytes; use at least 16`);
  return key;
}
