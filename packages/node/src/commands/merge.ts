import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { modelSize, positiveInt, positiveNumber, seed } from '../cli-support.js';
import { MERGE_METHODS } from '../merge/method-names.js';
import type { MergeFlags } from './merge-run.js';

/**
 * `fednode merge`: one-shot merging of safetensors checkpoints of one task, from flags or a
 * YAML recipe (flags win over the recipe). Progress goes to stderr; `--eval` prints each
 * input's and the merge's held-out accuracy and loss; `--json` makes the last stdout line a
 * summary object.
 */

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
      // The recipe's validators, the merge methods and the evaluation load only when a merge runs.
      const { runMergeCommand } = await import('./merge-run.js');
      await runMergeCommand(inputs, flags);
    });
}
