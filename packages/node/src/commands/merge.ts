import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError, modelSize, positiveInt, positiveNumber, seed } from '../cli-support.js';
import { formatTable } from '../merge/evaluate.js';
import { MergeCommandError } from '../merge/errors.js';
import { MERGE_METHODS, checkRecipe, loadRecipe, type MergeMethod, type Recipe, type RecipeInput } from '../merge/recipe.js';
import { runMerge, type MergeSummary } from '../merge/run.js';

/**
 * `fednode merge`: one-shot merging of safetensors checkpoints of one task, from flags or a
 * YAML recipe (flags win over the recipe). Progress goes to stderr; `--eval` prints each
 * input's and the merge's held-out accuracy and loss; `--json` makes the last stdout line a
 * summary object.
 */

interface MergeFlags {
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

function numberList(value: string): number[] {
  const xs = value.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x))) throw new InvalidArgumentError('must be numbers separated by commas, e.g. 1,2,1.');
  return xs;
}

function finite(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number.');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer >= 0.');
  return n;
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

function opt<T>(flags: string, description: string, parse?: (value: string, previous: T) => T): Option {
  return parse === undefined ? new Option(flags, description) : new Option(flags, description).argParser(parse);
}

/** The options without choices or defaults, as a table so the help reads in one place. */
const PLAIN_OPTIONS: readonly Option[] = [
  opt('--recipe <file>', 'YAML recipe: task, inputs, base, method, options, align, output (flags override it)'),
  opt('--base <file>', 'the checkpoint the inputs were trained from (task-arithmetic, ties, dare)'),
  opt('--weights <list>', 'per-input weights, e.g. 1,2,1 (average, task-arithmetic, dare)', numberList),
  opt('-o, --out <file>', 'write the merge here (safetensors, with the recipe in its metadata)'),
  opt('--task <name>', "the inputs' task, when their metadata does not say it"),
  opt('--dataset <name>', "the task's dataset (with --task)"),
  opt('--model-size <key=n>', 'a model size of the task (repeatable), e.g. dModel=64', modelSize),
  opt('--align', 'weight-match every input to the first before merging (models from different initialisations; average, slerp)'),
  opt('--density <x>', 'ties: fraction of each task vector kept', finite),
  opt('--lambda <x>', 'task-arithmetic, ties, dare: scale of the merged task vector', finite),
  opt('--p <x>', 'dare: drop probability', finite),
  opt('--t <x>', 'slerp: interpolation from the first (0) to the second (1)', finite),
  opt('--seed <n>', 'dare masks, weight-matching order, moe router init and batches', seed),
  opt('--align-sweeps <n>', 'weight matching: most sweeps', positiveInt),
  opt('--top-k <k>', 'moe: experts per token (1 to the number of inputs; default all of them, a soft mixture)', positiveInt),
  opt('--router-steps <n>', 'moe: router training steps on mixed data (0: untrained)', nonNegativeInt),
  opt('--router-lr <x>', 'moe: router learning rate (AdamW)', positiveNumber),
  opt('--router-batch <n>', 'moe: windows per router step', positiveInt),
  opt('--eval-limit <n>', 'evaluate on the first n held-out examples', positiveInt),
  opt('--onnx <file>', 'also export the merge as a standalone ONNX inference file (opset 17)'),
];

export function mergeCommand(): Command {
  const cmd = new Command('merge')
    .description('merge safetensors checkpoints of one task (average, task arithmetic, TIES, DARE, SLERP, or experts into a mixture) and evaluate the result')
    .argument('[inputs...]', "checkpoints to merge (safetensors; fednode's own or any with the same tensor names and shapes)")
    .addOption(new Option('--method <name>', 'merge method').choices([...MERGE_METHODS]))
    .addOption(new Option('--scope <s>', 'ties: rank magnitudes per tensor or over the model').choices(['tensor', 'model']))
    .addOption(new Option('--rescale <r>', 'dare: rescaling of the kept entries').choices(['inverse', 'l1']));
  for (const o of PLAIN_OPTIONS) cmd.addOption(o);
  return cmd
    .option('--eval', "print each input's, the plain average's and the merge's held-out accuracy and loss", false)
    .option('--json', 'print a summary as one JSON object on the last line of stdout', false)
    .option('--threads <n>', 'onnxruntime intra-op threads (router training, evaluation)', positiveInt, availableParallelism())
    .action(async (inputs: string[], flags: MergeFlags) => {
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
    });
}
