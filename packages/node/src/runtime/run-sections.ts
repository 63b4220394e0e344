/**
 * The sections every run document shares, whatever runs it (daemons, decentralised peers):
 * the task, the partition, wire limits and admission, with their schemas, reading the
 * pre-shared key the admission section names, and reading a document before its `mode` says
 * which runtime checks it.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DEFAULT_WIRE_LIMITS, tasks, type WireLimits } from '@fednode/core';
import { int, obj, pos } from '../schema-parts.js';
import { parseYamlText } from '../schema-errors.js';
import { DaemonError } from './errors.js';

export type PartitionSpec = tasks.PartitionSpec;

/** What the participants train: a task from the registry, its dataset and its model sizes. */
export interface RunTask {
  /** A registered task: mlp, cnn, transformer, moe-transformer. */
  readonly name: string;
  readonly dataset: string;
  /** The model's sizes (each task's own keys; defaults per task). */
  readonly model?: Readonly<Record<string, number>>;
}

/** Who may take part: an allowlist of peer ids and/or a pre-shared key. */
export interface AdmissionSection {
  /** Peer ids allowed to push, pull and gossip; absent: anyone (who knows the key, when one is set). */
  readonly allow?: readonly string[];
  /** The pre-shared key: a file (relative to the run document) or an environment variable. */
  readonly psk?: { readonly file: string } | { readonly env: string };
}

const str = { type: 'string', minLength: 1 } as const;

export const TASK_SCHEMA = obj(['name', 'dataset'], {
  name: { enum: [...tasks.TASKS.keys()] },
  dataset: { enum: [...new Set([...tasks.TASKS.values()].flatMap((t) => t.datasets))] },
  model: { type: 'object', additionalProperties: { type: 'integer', minimum: 1 } },
});

export const PARTITION_SCHEMA = {
  oneOf: [
    obj(['kind'], { kind: { const: 'iid' } }),
    obj(['kind', 'alpha'], { kind: { const: 'dirichlet' }, alpha: pos }),
    obj(['kind'], { kind: { const: 'shards' }, perClient: int(1) }),
    obj(['kind'], { kind: { const: 'natural' } }),
    obj(['kind'], { kind: { const: 'eras' } }),
  ],
};

/** `limits.wire`: each of `WireLimits`, validated (a malformed limit must not turn one off). */
export const WIRE_SCHEMA = obj([], {
  maxMessageBytes: int(1024),
  maxTensorBytes: int(1),
  maxTotalBytes: int(1),
  maxTensors: int(1),
  maxDims: int(1),
  maxStringBytes: int(64),
  maxMetrics: int(0),
  maxSliceIndices: int(1),
});

/** `admission`: who may join, or `open` (anyone: said explicitly, never by leaving it out of a decentralised run). */
export const ADMISSION_SCHEMA = {
  oneOf: [
    { const: 'open' },
    obj([], {
      allow: { type: 'array', items: str, uniqueItems: true },
      psk: { oneOf: [obj(['file'], { file: str }), obj(['env'], { env: str })] },
    }),
  ],
};

/** The section an `admission` field means: `open` (or none) is no list and no key. */
export function admissionSection(a: AdmissionSection | 'open' | undefined): AdmissionSection {
  return a === undefined || a === 'open' ? {} : a;
}

/** A decentralised run says who may join, or that anyone may: no admission at all is a mistake, not a default. */
export function admissionProblems(value: object): string[] {
  const a = (value as { admission?: { allow?: readonly string[]; psk?: unknown } | 'open' }).admission;
  if (a === 'open') return [];
  if (a === undefined || ((a.allow ?? []).length === 0 && a.psk === undefined)) {
    return ['admission: say who may take part (admission: { psk: { env: NAME } } and/or { allow: [peer ids] }), or write "admission: open" for a run anyone may join'];
  }
  return [];
}

/** What the schema cannot say about `limits.wire`, one line a problem. */
export function wireProblems(limits: { readonly wire?: Partial<WireLimits> } | undefined): string[] {
  const m = limits?.wire?.maxMessageBytes;
  return m !== undefined && m < 64 * 1024 ? [`limits.wire.maxMessageBytes ${m} is under 64 KiB: headers would not fit`] : [];
}

/** The wire limits: the defaults with the document's overrides. */
export function wireLimitsFrom(limits: { readonly wire?: Partial<WireLimits> } | undefined): WireLimits {
  return { ...DEFAULT_WIRE_LIMITS, ...(limits?.wire ?? {}) };
}

/** The pre-shared key the admission section names, read from its file or variable; undefined when none. */
export function readPsk(run: { readonly admission?: AdmissionSection | 'open' }, baseDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const psk = admissionSection(run.admission).psk;
  if (psk === undefined) return undefined;
  let key: string | undefined;
  if ('file' in psk) {
    const p = isAbsolute(psk.file) ? psk.file : resolve(baseDir, psk.file);
    try {
      // As ssh does with private keys: a key others can read is no longer a secret.
      const mode = statSync(p).mode & 0o777;
      if ((mode & 0o077) !== 0) throw new DaemonError('RUN_FILE', `admission.psk.file: ${p} can be read by group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${p}`);
      key = readFileSync(p, 'utf8').trim();
    } catch (e) {
      if (e instanceof DaemonError) throw e;
      throw new DaemonError('RUN_FILE', `admission.psk.file: cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else {
    key = env[psk.env]?.trim();
    if (key === undefined || key === '') throw new DaemonError('RUN_FILE', `admission.psk.env: the environment variable ${psk.env} is not set`);
  }
  if (Buffer.byteLength(key, 'utf8') < 16) throw new DaemonError('RUN_FILE', `admission.psk: the key has ${Buffer.byteLength(key, 'utf8')} bytes; use at least 16`);
  return key;
}

/** A run document parsed but not yet checked, and the directory its relative paths resolve against. */
export interface RunDocument {
  readonly value: unknown;
  readonly baseDir: string;
}

/**
 * Reads and parses a run document of either kind, so that a caller that must first see its
 * `mode` (`fednode start`) reads the file once and hands the checker the parsed value.
 */
export function readRunDocument(path: string): RunDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DaemonError('RUN_FILE', `cannot read run file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { value: parseYamlText(text, path, (m) => new DaemonError('RUN_FILE', m)), baseDir: dirname(resolve(path)) };
}
