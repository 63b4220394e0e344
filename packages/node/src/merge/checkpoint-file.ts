import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ParamSet, encodeSafetensors, paramSetFromSafetensors, paramSetToSafetensors, parseSafetensors, writeFileAtomic, type StoredDType, type Task, type TensorSpec } from '@fednode/core';
import { MergeCommandError } from './errors.js';

/**
 * Safetensors checkpoints as `fednode merge` reads and writes them: the tensors as one
 * parameter set, the storage dtype (every tensor of a file must share one float dtype, and so
 * must every input of a merge), and the metadata that names the task. fednode's own files
 * say `fednode.task`, `fednode.dataset` and `fednode.model` (the model sizes as JSON); a file
 * from elsewhere with the same tensor names and shapes loads too, the task then coming from
 * the recipe or being recognised from the layout.
 */

export const META_TASK = 'fednode.task';
export const META_DATASET = 'fednode.dataset';
export const META_MODEL = 'fednode.model';
export const META_RECIPE = 'fednode.merge.recipe';

export interface CheckpointFile {
  readonly path: string;
  readonly params: ParamSet;
  readonly dtype: StoredDType;
  readonly metadata: Readonly<Record<string, string>>;
  /** SHA-256 of the file's bytes: the recipe in a merged file names its inputs by it. */
  readonly sha256: string;
}

const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];

/** Reads one checkpoint; refuses a file that is not safetensors or holds non-float or mixed dtypes. */
export function readCheckpoint(path: string): CheckpointFile {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new MergeCommandError(`cannot read checkpoint ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let file;
  try {
    file = parseSafetensors(bytes);
  } catch (e) {
    throw new MergeCommandError(`${path} is not a safetensors file: ${(e as Error).message}`);
  }
  if (file.tensors.length === 0) throw new MergeCommandError(`${path} holds no tensors`);
  const dtype = file.tensors[0].dtype;
  for (const t of file.tensors) {
    if (!FLOAT_DTYPES.includes(t.dtype)) throw new MergeCommandError(`${path}: tensor "${t.name}" is ${t.dtype}; merging needs float tensors (F32, F16 or BF16)`);
    if (t.dtype !== dtype) throw new MergeCommandError(`${path}: tensor "${t.name}" is ${t.dtype} but "${file.tensors[0].name}" is ${dtype}; a checkpoint must use one dtype`);
  }
  return {
    path,
    params: paramSetFromSafetensors(file.tensors),
    dtype: dtype as StoredDType,
    metadata: file.metadata,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** The metadata that lets `fednode merge` (and a reader) know which task a checkpoint is of. */
export function taskMetadata(task: Task, model: Readonly<Record<string, number>> = {}): Record<string, string> {
  return { [META_TASK]: task.name, [META_DATASET]: task.dataset, [META_MODEL]: JSON.stringify(model) };
}

/** Writes `params` as a safetensors file (atomically), tensors in layout order. */
export function writeCheckpoint(path: string, params: ParamSet, metadata: Record<string, string>, dtype: StoredDType = 'F32'): void {
  writeFileAtomic(path, encodeSafetensors(paramSetToSafetensors(params, dtype), { format: 'pt', ...metadata }));
}

/**
 * Throws naming the first difference unless every checkpoint has the first one's tensor
 * names, shapes and dtype, and no two name different tasks.
 */
export function expectCompatible(files: readonly CheckpointFile[]): void {
  const ref = files[0];
  for (const f of files.slice(1)) {
    const a = ref.params.specs;
    const b = f.params.specs;
    const names = new Set(a.map((s) => s.name));
    const missing = a.find((s) => !f.params.has(s.name));
    if (missing !== undefined) throw new MergeCommandError(`${basename(f.path)} has no tensor "${missing.name}" (${basename(ref.path)} has)`);
    const extra = b.find((s) => !names.has(s.name));
    if (extra !== undefined) throw new MergeCommandError(`${basename(f.path)} has a tensor "${extra.name}" that ${basename(ref.path)} lacks`);
    for (const s of a) {
      const other = f.params.spec(s.name).shape;
      if (other.join(',') !== s.shape.join(',')) {
        throw new MergeCommandError(`tensor "${s.name}" is [${other.join(', ')}] in ${basename(f.path)} but [${s.shape.join(', ')}] in ${basename(ref.path)}`);
      }
    }
    if (f.dtype !== ref.dtype) throw new MergeCommandError(`${basename(f.path)} stores ${f.dtype} but ${basename(ref.path)} stores ${ref.dtype}; convert them to one dtype first`);
    for (const key of [META_TASK, META_DATASET, META_MODEL]) {
      const x = ref.metadata[key];
      const y = f.metadata[key];
      if (x !== undefined && y !== undefined && x !== y) throw new MergeCommandError(`${basename(f.path)} is of ${key} ${y} but ${basename(ref.path)} of ${x}: checkpoints of different tasks cannot be merged`);
    }
  }
}

/**
 * `f`'s parameters in the layout of `specs` (a file from elsewhere may list its tensors in
 * any order); throws naming the first tensor missing, extra or of another shape.
 */
export function inLayout(f: CheckpointFile, specs: readonly TensorSpec[], what: string): ParamSet {
  const p = f.params;
  const name = basename(f.path);
  for (const s of specs) {
    if (!p.has(s.name)) throw new MergeCommandError(`${name} has no tensor "${s.name}", which ${what} has`);
    const got = p.spec(s.name).shape;
    if (got.join(',') !== s.shape.join(',')) throw new MergeCommandError(`tensor "${s.name}" is [${got.join(', ')}] in ${name} but [${s.shape.join(', ')}] in ${what}`);
  }
  const extra = p.specs.find((s) => !specs.some((t) => t.name === s.name));
  if (extra !== undefined) throw new MergeCommandError(`${name} has a tensor "${extra.name}" that ${what} lacks`);
  if (p.specs.every((s, i) => s.name === specs[i].name)) return p;
  return ParamSet.fromTensors(specs.map((s) => ({ name: s.name, shape: s.shape, data: p.tensor(s.name) })));
}
