import { basename } from 'node:path';
import { tasks, type Task, type TensorSpec } from '@fednode/core';
import { META_DATASET, META_MODEL, META_TASK, type CheckpointFile } from './checkpoint-file.js';
import { MergeCommandError } from './errors.js';
import type { RecipeTask } from './recipe.js';

/**
 * The task a merge's checkpoints are of: the recipe's `task` when it names one, else what
 * fednode's checkpoints say in their metadata, else the one registered task (at its default
 * sizes) whose layout is the files' own. The model sizes travel with the task, because the
 * merged file must say them too and `--method moe` builds the mixture from them.
 */
export interface MergeTask {
  readonly task: Task;
  readonly model: Readonly<Record<string, number>>;
}

function create(name: string, dataset: string | undefined, model: Readonly<Record<string, number>>, where: string): MergeTask {
  const f = tasks.TASKS.get(name);
  if (f === undefined) throw new MergeCommandError(`${where} names task "${name}"; known: ${[...tasks.TASKS.keys()].join(', ')}`);
  try {
    return { task: tasks.createTask(name, { dataset: dataset ?? f.datasets[0], model }), model };
  } catch (e) {
    throw new MergeCommandError(`${where}: ${(e as Error).message}`);
  }
}

function sameLayout(a: readonly TensorSpec[], b: readonly TensorSpec[]): boolean {
  if (a.length !== b.length) return false;
  const shapes = new Map(a.map((s) => [s.name, s.shape.join(',')]));
  return b.every((s) => shapes.get(s.name) === s.shape.join(','));
}

function modelOf(f: CheckpointFile): Readonly<Record<string, number>> {
  const raw = f.metadata[META_MODEL];
  if (raw === undefined) return {};
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch {
    throw new MergeCommandError(`${basename(f.path)}: metadata ${META_MODEL} is not JSON`);
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m) || !Object.values(m).every((v) => Number.isInteger(v))) {
    throw new MergeCommandError(`${basename(f.path)}: metadata ${META_MODEL} is not an object of integer sizes`);
  }
  return m as Record<string, number>;
}

export function resolveTask(recipeTask: RecipeTask | undefined, files: readonly CheckpointFile[]): MergeTask {
  const first = files[0];
  const named = first.metadata[META_TASK];
  if (recipeTask !== undefined) {
    if (named !== undefined && named !== recipeTask.name) {
      throw new MergeCommandError(`the recipe says task ${recipeTask.name} but ${basename(first.path)} is a checkpoint of ${named}`);
    }
    return create(recipeTask.name, recipeTask.dataset ?? first.metadata[META_DATASET], recipeTask.model ?? modelOf(first), 'the recipe');
  }
  if (named !== undefined) return create(named, first.metadata[META_DATASET], modelOf(first), basename(first.path));
  // A file from elsewhere: recognise the layout among the registered tasks at default sizes.
  for (const f of tasks.TASKS.values()) {
    for (const dataset of f.datasets) {
      let task: Task;
      try {
        task = f.create({ dataset });
      } catch {
        continue; // a dataset that is not installed cannot be this file's task
      }
      if (sameLayout(task.specs, first.params.specs)) return { task, model: {} };
    }
  }
  throw new MergeCommandError(
    `${basename(first.path)} names no task and its layout is none of the registered tasks at their default sizes: give task (name, dataset, model sizes) in the recipe or --task/--dataset/--model-size`,
  );
}

/**
 * Heads and head size of a transformer task, which its layout alone cannot tell (q.weight is
 * [d, heads·headDim]): read from the task's configuration.
 */
export function transformerShapeOf(task: Task): { layers: number; heads: number; headDim: number; dModel: number; ffDim: number; seqLen: number } {
  const c = (task as Task & { readonly config?: unknown }).config;
  const keys = ['layers', 'heads', 'headDim', 'dModel', 'ffDim', 'seqLen'] as const;
  if (c === null || typeof c !== 'object' || !keys.every((k) => typeof (c as Record<string, unknown>)[k] === 'number')) {
    throw new MergeCommandError(`task ${task.name} does not expose its transformer configuration`);
  }
  const r = c as Record<(typeof keys)[number], number>;
  return { layers: r.layers, heads: r.heads, headDim: r.headDim, dModel: r.dModel, ffDim: r.ffDim, seqLen: r.seqLen };
}
