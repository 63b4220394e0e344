import { UsageError } from '../cli-support.js';
import { formatTable } from '../merge/evaluate.js';
import { MergeCommandError } from '../merge/errors.js';
import type { MergeMethod } from '../merge/method-names.js';
import { checkRecipe, loadRecipe, type Recipe, type RecipeInput } from '../merge/recipe.js';
import { runMerge, type MergeSummary } from '../merge/run.js';

/**
 * What `fednode merge` runs once its flags are parsed (commands/merge.ts), loaded only then:
 * the recipe the flags and the recipe file describe, checked, merged and reported.
 */

export interface MergeFlags {
  recipe?: string;
  method?: MergeMethod;
  base?: string;
  weights?: number[];
  out?: string;
  task?: string;
  dataset?: string;
  modelSize?: Record<string, number>;
  align?: boolean;
  density?: number;
  lambda?: number;
  scope?: string;
  p?: number;
  t?: number;
  rescale?: string;
  seed?: number;
  alignSweeps?: number;
  topK?: number;
  routerSteps?: number;
  routerLr?: number;
  routerBatch?: number;
  eval: boolean;
  evalLimit?: number;
  onnx?: string;
  json: boolean;
  threads: number;
}

/** Method options the flags set (only those given: the recipe's stay otherwise). */
const OPTION_FLAGS = ['density', 'lambda', 'scope', 'p', 't', 'rescale', 'seed', 'alignSweeps', 'topK', 'routerSteps', 'routerLr', 'routerBatch'] as const;

/** The recipe the flags and the optional recipe file describe together. */
export function recipeOfFlags(inputs: readonly string[], flags: MergeFlags): Recipe {
  const file = flags.recipe === undefined ? null : loadRecipe(flags.recipe);
  const method = flags.method ?? file?.method;
  if (method === undefined) throw new UsageError('give --method (or a --recipe that names one)');
  let list: RecipeInput[] = inputs.length > 0 ? inputs.map((path) => ({ path })) : [...(file?.inputs ?? [])];
  if (list.length === 0) throw new UsageError('give the checkpoints to merge (or a --recipe that lists them)');
  if (flags.weights !== undefined) {
    if (flags.weights.length !== list.length) throw new UsageError(`--weights has ${flags.weights.length} values for ${list.length} inputs`);
    list = list.map((i, k) => ({ path: i.path, weight: flags.weights![k] }));
  }
  const options: Record<string, number | string> = { ...(file?.method === method ? file.options : {}) };
  for (const key of OPTION_FLAGS) {
    const v = flags[key];
    if (v !== undefined) options[key] = v;
  }
  const taskName = flags.task ?? file?.task?.name;
  if (taskName === undefined && (flags.dataset !== undefined || flags.modelSize !== undefined)) throw new UsageError('--dataset and --model-size need --task');
  const recipe: Recipe = {
    ...(taskName === undefined
      ? {}
      : { task: { name: taskName, ...(flags.dataset ?? file?.task?.dataset ? { dataset: flags.dataset ?? file?.task?.dataset } : {}), ...(flags.modelSize ?? file?.task?.model ? { model: flags.modelSize ?? file?.task?.model } : {}) } }),
    inputs: list,
    ...(flags.base ?? file?.base ? { base: flags.base ?? file?.base } : {}),
    method,
    options,
    align: flags.align === true ? 'weights' : (file?.align ?? 'none'),
    ...(flags.out ?? file?.output ? { output: flags.out ?? file?.output } : {}),
  };
  checkRecipe(recipe, flags.recipe ?? 'fednode merge');
  return recipe;
}

function printHuman(s: MergeSummary): void {
  const out = (line: string): boolean => process.stdout.write(line + '\n');
  out(`merged ${s.inputs.length} checkpoint(s) of ${s.task} on ${s.dataset} with ${s.method}${s.align === 'weights' ? ' after weight matching' : ''}: ${s.parameters} parameters of ${s.merged_task}`);
  if (s.router !== null) {
    out(`router: ${s.router.steps} steps of ${s.router.batch} windows (${s.router.examples} mixed windows), lr ${s.router.lr}, loss ${s.router.firstLoss?.toFixed(4) ?? '-'} -> ${s.router.lastLoss?.toFixed(4) ?? '-'}`);
  }
  if (s.output !== null) out(`wrote ${s.output}`);
  if (s.onnx !== null) out(`exported ${s.onnx}`);
  if (s.evaluation !== null) out(formatTable(s.evaluation));
}

/** Merges as the flags say; progress on stderr, the summary on stdout. */
export async function runMergeCommand(inputs: readonly string[], flags: MergeFlags): Promise<void> {
  const recipe = recipeOfFlags(inputs, flags);
  if (recipe.output === undefined && !flags.eval && flags.onnx === undefined) throw new UsageError('nothing to do: give --out, --onnx or --eval');
  const progress = (line: string): boolean => process.stderr.write(line + '\n');
  let summary: MergeSummary;
  try {
    summary = await runMerge(recipe, { evaluate: flags.eval, ...(flags.evalLimit === undefined ? {} : { evalLimit: flags.evalLimit }), ...(flags.onnx === undefined ? {} : { onnx: flags.onnx }), threads: flags.threads, progress });
  } catch (e) {
    // The aggregator's merge errors name a field; said as one line like the command's own.
    if (e instanceof MergeCommandError) throw e;
    const field = (e as { field?: unknown }).field;
    throw new MergeCommandError(`${recipe.method}: ${(e as Error).message}${typeof field === 'string' ? ` (${field})` : ''}`);
  }
  if (flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else printHuman(summary);
}
