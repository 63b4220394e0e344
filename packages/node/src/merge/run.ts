import { basename, resolve } from 'node:path';
import { mergeAverage } from '@fednode/aggregator';
import { writeFileAtomic, type ParamSet } from '@fednode/core';
import { META_RECIPE, expectCompatible, inLayout, readCheckpoint, taskMetadata, writeCheckpoint, type CheckpointFile } from './checkpoint-file.js';
import { MergeCommandError } from './errors.js';
import { evaluateModels, type EvalRow, type ToEvaluate } from './evaluate.js';
import { assembleMixture, domainsOf, type RouterTraining } from './expert-mixture.js';
import { mergeInWeightSpace, type Progress } from './methods.js';
import type { Recipe } from './recipe.js';
import { resolveTask, type MergeTask } from './task-of.js';

/**
 * One merge from a recipe: read and check the checkpoints, find their task, merge, write
 * the result (with the recipe in its metadata) and, when asked, an ONNX export and the
 * held-out evaluation of every input, the plain average (for comparison) and the merge.
 */

export interface MergeRunOptions {
  readonly evaluate: boolean;
  /** Held-out examples to evaluate on (default: the task's own test set). */
  readonly evalLimit?: number;
  /** Also write the merge as a standalone ONNX inference file. */
  readonly onnx?: string;
  readonly threads: number;
  readonly progress: Progress;
}

export interface MergeSummary {
  readonly method: Recipe['method'];
  readonly task: string;
  readonly dataset: string;
  /** The merged model's task: the inputs' one, or moe-transformer for `moe`. */
  readonly merged_task: string;
  readonly model: Readonly<Record<string, number>>;
  readonly inputs: readonly { path: string; sha256: string; weight: number }[];
  readonly base: string | null;
  readonly options: Recipe['options'];
  readonly align: Recipe['align'];
  readonly output: string | null;
  readonly onnx: string | null;
  readonly parameters: number;
  readonly router: RouterTraining | null;
  /** Inputs, then the plain average (for comparison, unless the method is average), then the merge. */
  readonly evaluation: readonly (EvalRow & { role: 'input' | 'reference' | 'merge' })[] | null;
  readonly seconds: number;
}

/** The recipe as the merged file records it: inputs by name and SHA-256, so a copy can be checked. */
function recordedRecipe(r: Recipe, t: MergeTask, inputs: readonly CheckpointFile[], base: CheckpointFile | null): string {
  return JSON.stringify({
    task: { name: t.task.name, dataset: t.task.dataset, model: t.model },
    inputs: inputs.map((f, i) => ({ path: basename(f.path), sha256: f.sha256, ...(r.inputs[i].weight === undefined ? {} : { weight: r.inputs[i].weight }) })),
    ...(base === null ? {} : { base: { path: basename(base.path), sha256: base.sha256 } }),
    method: r.method,
    options: r.options,
    align: r.align,
  });
}

export async function runMerge(r: Recipe, o: MergeRunOptions): Promise<MergeSummary> {
  const t0 = performance.now();
  const files = r.inputs.map((input, i) => {
    o.progress(`reading input ${i + 1}/${r.inputs.length}: ${input.path}`);
    return readCheckpoint(input.path);
  });
  const baseFile = r.base === undefined ? null : readCheckpoint(r.base);
  expectCompatible(baseFile === null ? files : [...files, baseFile]);
  const source = resolveTask(r.task, files);
  const what = `task ${source.task.name}`;
  const models = files.map((f) => inLayout(f, source.task.specs, what));
  const base = baseFile === null ? null : inLayout(baseFile, source.task.specs, what);

  let merged: MergeTask = source;
  let params: ParamSet;
  let router: RouterTraining | null = null;
  if (r.method === 'moe') {
    const m = await assembleMixture(source, models, domainsOf(files.map((f) => f.metadata)), r.options, o.threads, o.progress);
    merged = m.merged;
    params = m.params;
    router = m.router;
  } else {
    params = mergeInWeightSpace(r, source.task, models, base, o.progress);
  }

  if (!params.data.every(Number.isFinite)) throw new MergeCommandError(`the ${r.method} merge holds NaN or Infinity: check the inputs and options`);

  const metadata = { ...taskMetadata(merged.task, merged.model), [META_RECIPE]: recordedRecipe(r, source, files, baseFile), 'fednode.merge.method': r.method };
  const output = r.output === undefined ? null : resolve(r.output);
  if (output !== null) {
    writeCheckpoint(output, params, metadata, files[0].dtype);
    o.progress(`wrote ${output}`);
  }
  const onnx = o.onnx === undefined ? null : resolve(o.onnx);
  if (onnx !== null) {
    writeFileAtomic(onnx, [merged.task.subnet().exportOnnx(params, metadata)]);
    o.progress(`exported ${onnx}`);
  }

  let evaluation: MergeSummary['evaluation'] = null;
  if (o.evaluate) {
    const label = (f: CheckpointFile, i: number): string => (files.filter((g) => basename(g.path) === basename(f.path)).length > 1 ? `${i + 1}: ${basename(f.path)}` : basename(f.path));
    const list: (ToEvaluate & { role: 'input' | 'reference' | 'merge' })[] = files.map((f, i) => ({ label: label(f, i), task: source.task, params: models[i], role: 'input' }));
    if (r.method !== 'average') list.push({ label: 'average (for comparison)', task: source.task, params: mergeAverage(models), role: 'reference' });
    list.push({ label: `merge (${r.method}${r.align === 'weights' ? ', weight-matched' : ''})`, task: merged.task, params, role: 'merge' });
    const rows = await evaluateModels(list, { ...(o.evalLimit === undefined ? {} : { limit: o.evalLimit }), threads: o.threads, progress: o.progress });
    evaluation = rows.map((row, i) => ({ ...row, role: list[i].role }));
  }
  return {
    method: r.method,
    task: source.task.name,
    dataset: source.task.dataset,
    merged_task: merged.task.name,
    model: merged.model,
    inputs: files.map((f, i) => ({ path: resolve(f.path), sha256: f.sha256, weight: r.inputs[i].weight ?? 1 })),
    base: baseFile === null ? null : resolve(baseFile.path),
    options: r.options,
    align: r.align,
    output,
    onnx,
    parameters: params.size,
    router,
    evaluation,
    seconds: (performance.now() - t0) / 1000,
  };
}
