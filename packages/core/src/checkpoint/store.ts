import { readFileSync, existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { packFloat16, unpackFloat16, packBFloat16, unpackBFloat16 } from '@fednode/kernels';
import { CoreError } from '../errors.js';
import { ParamSet, type TensorSpec } from '../tensor/paramset.js';
import { encodeSafetensors, parseSafetensors, float32Bytes, type SafeDType, type SafeTensor } from './safetensors.js';
import { removeStaleTemps, writeFileAtomic } from './atomic-file.js';

/** What is stored with each checkpoint besides the tensors. */
export interface CheckpointMeta {
  readonly runId: string;
  readonly version: number;
  /** Free-form string metadata (written into the safetensors `__metadata__`). */
  readonly extra?: Readonly<Record<string, string>>;
}

export interface Checkpoint extends CheckpointMeta {
  readonly params: ParamSet;
  /** The strategy's serialised state, when one was saved. */
  readonly strategyState?: Uint8Array;
}

export type StoredDType = Extract<SafeDType, 'F32' | 'F16' | 'BF16'>;

const META_PREFIX = 'fednode.';

/** Safetensors parts for a parameter set, each tensor stored as `dtype`. */
export function paramSetToSafetensors(params: ParamSet, dtype: StoredDType = 'F32'): SafeTensor[] {
  return params.specs.map((s) => {
    const v = params.tensor(s.name);
    if (dtype === 'F32') return { name: s.name, dtype, shape: s.shape, bytes: float32Bytes(v) };
    const h = new Uint16Array(v.length);
    if (dtype === 'F16') packFloat16(v, h);
    else packBFloat16(v, h);
    return { name: s.name, dtype, shape: s.shape, bytes: new Uint8Array(h.buffer) };
  });
}

/** A parameter set from safetensors tensors (F32, F16, BF16 or I8), in file order. */
export function paramSetFromSafetensors(tensors: readonly SafeTensor[]): ParamSet {
  const specs: TensorSpec[] = tensors.map((t) => ({ name: t.name, shape: t.shape }));
  const p = ParamSet.zeros(specs);
  for (const t of tensors) {
    const out = p.tensor(t.name);
    const b = t.bytes;
    switch (t.dtype) {
      case 'F32':
        new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(b);
        break;
      case 'F16':
      case 'BF16': {
        const h = new Uint16Array(out.length);
        new Uint8Array(h.buffer).set(b);
        if (t.dtype === 'F16') unpackFloat16(h, out);
        else unpackBFloat16(h, out);
        break;
      }
      case 'I8': {
        const q = new Int8Array(b.buffer, b.byteOffset, b.byteLength);
        for (let i = 0; i < q.length; i++) out[i] = q[i];
        break;
      }
      default:
        throw new CoreError('CHECKPOINT_CORRUPT', `dtype ${t.dtype} cannot hold parameters`, `${t.name}.dtype`);
    }
  }
  return p;
}

export interface CheckpointStoreOptions {
  /** How many most recent versions to keep on disk (default 5; 0 keeps all). */
  keep?: number;
  /** Storage type of the tensors (default F32). */
  dtype?: StoredDType;
}

/**
 * A directory of checkpoints, one per model version: `v<version>.safetensors` (the model,
 * readable by any safetensors tool), `v<version>.state` (the strategy state, whose length
 * and SHA-256 the safetensors metadata records) and `LATEST` (the newest complete version).
 * Each file is written atomically and `LATEST` moves last, so a crash at any point leaves
 * the previous checkpoint loadable.
 */
export class CheckpointStore {
  readonly dir: string;
  private readonly keep: number;
  private readonly dtype: StoredDType;

  constructor(dir: string, options: CheckpointStoreOptions = {}) {
    this.dir = dir;
    this.keep = options.keep ?? 5;
    this.dtype = options.dtype ?? 'F32';
    mkdirSync(dir, { recursive: true });
    removeStaleTemps(dir);
  }

  save(ckpt: Checkpoint): void {
    if (!Number.isSafeInteger(ckpt.version) || ckpt.version < 0) {
      throw new CoreError('CHECKPOINT_CORRUPT', `version ${ckpt.version} is not a non-negative integer`, 'version');
    }
    const metadata: Record<string, string> = { format: 'pt' };
    for (const [k, v] of Object.entries(ckpt.extra ?? {})) metadata[k] = v;
    metadata[`${META_PREFIX}format`] = '1';
    metadata[`${META_PREFIX}run_id`] = ckpt.runId;
    metadata[`${META_PREFIX}version`] = String(ckpt.version);
    if (ckpt.strategyState !== undefined) {
      writeFileAtomic(this.statePath(ckpt.version), [ckpt.strategyState]);
      metadata[`${META_PREFIX}state_bytes`] = String(ckpt.strategyState.byteLength);
      metadata[`${META_PREFIX}state_sha256`] = sha256(ckpt.strategyState);
    }
    const tensors = paramSetToSafetensors(ckpt.params, this.dtype);
    metadata[`${META_PREFIX}tensors_sha256`] = tensorsDigest(tensors);
    writeFileAtomic(this.tensorPath(ckpt.version), encodeSafetensors(tensors, metadata));
    writeFileAtomic(join(this.dir, 'LATEST'), [new TextEncoder().encode(`${ckpt.version}\n`)]);
    this.prune(ckpt.version);
  }

  /** The newest complete version, or null when the store is empty. */
  latestVersion(): number | null {
    const p = join(this.dir, 'LATEST');
    if (!existsSync(p)) return null;
    const text = readFileSync(p, 'utf8').trim();
    const v = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(v)) throw new CoreError('CHECKPOINT_CORRUPT', `LATEST holds "${text}", not a version`, 'LATEST');
    return v;
  }

  /** Versions with a tensor file on disk, ascending. */
  versions(): number[] {
    return readdirSync(this.dir)
      .map((n) => /^v(\d{8,})\.safetensors$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** Loads `version` (default: LATEST), verifying every part before returning anything. */
  load(version?: number): Checkpoint {
    const v = version ?? this.latestVersion();
    if (v === null) throw new CoreError('CHECKPOINT_MISSING', `no checkpoint in ${this.dir}`);
    const path = this.tensorPath(v);
    if (!existsSync(path)) throw new CoreError('CHECKPOINT_MISSING', `no checkpoint for version ${v} (${path})`);
    let file;
    try {
      file = parseSafetensors(readFileSync(path));
    } catch (e) {
      if (e instanceof CoreError) throw new CoreError(e.code, e.message, path);
      throw e;
    }
    const meta = file.metadata;
    // Bytes flipped inside a tensor leave a well-formed file: only a digest tells.
    const digest = meta[`${META_PREFIX}tensors_sha256`];
    if (digest !== undefined && tensorsDigest(file.tensors) !== digest) {
      throw new CoreError('CHECKPOINT_CORRUPT', 'the tensors do not match their recorded SHA-256 (the file was damaged after it was written)', path);
    }
    const runId = meta[`${META_PREFIX}run_id`];
    if (runId === undefined || meta[`${META_PREFIX}version`] !== String(v)) {
      throw new CoreError('CHECKPOINT_CORRUPT', `${path} lacks fednode metadata for version ${v}`, '__metadata__');
    }
    let strategyState: Uint8Array | undefined;
    const want = meta[`${META_PREFIX}state_sha256`];
    if (want !== undefined) {
      const sp = this.statePath(v);
      if (!existsSync(sp)) throw new CoreError('CHECKPOINT_MISSING', `strategy state ${sp} is missing`);
      strategyState = new Uint8Array(readFileSync(sp));
      if (String(strategyState.byteLength) !== meta[`${META_PREFIX}state_bytes`]) {
        throw new CoreError('CHECKPOINT_TRUNCATED', `strategy state has ${strategyState.byteLength} bytes, expected ${meta[`${META_PREFIX}state_bytes`]}`, sp);
      }
      if (sha256(strategyState) !== want) throw new CoreError('CHECKPOINT_CORRUPT', 'strategy state does not match its recorded SHA-256', sp);
    }
    const extra: Record<string, string> = {};
    for (const [k, s] of Object.entries(meta)) if (!k.startsWith(META_PREFIX) && k !== 'format') extra[k] = s;
    const params = paramSetFromSafetensors(file.tensors);
    return strategyState === undefined ? { runId, version: v, params, extra } : { runId, version: v, params, extra, strategyState };
  }

  /**
   * The newest version that loads intact: LATEST, else the versions before it, newest first.
   * `damaged` lists each one passed over, with its file and what was wrong, for the caller to say.
   */
  loadNewestIntact(): { checkpoint: Checkpoint | null; damaged: { version: number; path: string; reason: string }[] } {
    const damaged: { version: number; path: string; reason: string }[] = [];
    let latest: number | null;
    try {
      latest = this.latestVersion();
    } catch (e) {
      damaged.push({ version: -1, path: join(this.dir, 'LATEST'), reason: (e as Error).message });
      latest = null;
    }
    const candidates = [...new Set([...(latest === null ? [] : [latest]), ...this.versions().filter((v) => latest === null || v < latest).reverse()])];
    for (const v of candidates) {
      try {
        return { checkpoint: this.load(v), damaged };
      } catch (e) {
        if (!(e instanceof CoreError)) throw e;
        damaged.push({ version: v, path: this.tensorPath(v), reason: e.message });
      }
    }
    return { checkpoint: null, damaged };
  }

  tensorPath(version: number): string {
    return join(this.dir, `v${String(version).padStart(8, '0')}.safetensors`);
  }

  statePath(version: number): string {
    return join(this.dir, `v${String(version).padStart(8, '0')}.state`);
  }

  private prune(current: number): void {
    if (this.keep <= 0) return;
    const old = this.versions().filter((v) => v < current);
    for (const v of old.slice(0, Math.max(0, old.length - (this.keep - 1)))) {
      for (const p of [this.tensorPath(v), this.statePath(v)]) if (existsSync(p)) unlinkSync(p);
    }
  }
}

/** SHA-256 over every tensor's stored bytes, in file order. */
function tensorsDigest(tensors: readonly SafeTensor[]): string {
  const h = createHash('sha256');
  for (const t of tensors) h.update(t.bytes);
  return h.digest('hex');
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
