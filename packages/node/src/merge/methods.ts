import { cnnSpec, dare, mergeAverage, mlpSpec, slerp, taskArithmetic, ties, transformerSpec, weightMatchingBySpec, type PermutationSpec, type TiesScope, type DareRescale } from '@fednode/aggregator';
import type { ParamSet, Task } from '@fednode/core';
import { MergeCommandError } from './errors.js';
import type { MethodOptions, Recipe } from './recipe.js';
import { transformerShapeOf } from './task-of.js';

/**
 * The weight-space merge methods behind `fednode merge` (all but `moe`, which trains a
 * router): the recipe's options handed to the aggregator's merge functions, with inputs
 * first weight-matched to the first one when the recipe asks.
 */

export type Progress = (line: string) => void;

/** The permutation symmetries of a task's model, for weight matching. */
export function permutationSpecOf(task: Task): PermutationSpec {
  switch (task.name) {
    case 'mlp': {
      // Dense layers in layout order (fc1 … fcN, head): each weight with its bias.
      const layers = task.specs.filter((s) => s.name.endsWith('.weight')).map((s) => ({ weight: s.name, bias: s.name.replace(/\.weight$/, '.bias') }));
      return mlpSpec(layers, task.specs);
    }
    case 'cnn':
      return cnnSpec(task.specs);
    case 'transformer':
      return transformerSpec(task.specs, transformerShapeOf(task));
    default:
      throw new MergeCommandError(`weight matching knows the mlp, cnn and transformer tasks, not ${task.name}`);
  }
}

/**
 * The permutation spec a one-shot run lends its strategy for differentInit: the CNN's and the
 * transformer's. An MLP needs none (the strategy matches its dense layers itself, as the
 * simulator does, so both give the same bits); other models have none.
 */
export function alignmentOf(task: Task): PermutationSpec | undefined {
  return ['cnn', 'transformer'].includes(task.name) ? permutationSpecOf(task) : undefined;
}

/** Every model after the first, permuted to match the first (git re-basin weight matching). */
export function alignToFirst(task: Task, models: readonly ParamSet[], o: MethodOptions, progress: Progress): ParamSet[] {
  const spec = permutationSpecOf(task);
  const out = [models[0]];
  for (let i = 1; i < models.length; i++) {
    const r = weightMatchingBySpec(models[0], models[i], spec, {
      ...(typeof o.alignSweeps === 'number' ? { maxSweeps: o.alignSweeps } : {}),
      ...(typeof o.seed === 'number' ? { seed: o.seed } : {}),
      onGroup: (sweep, group, done, total) => progress(`aligning input ${i + 1} to input 1: sweep ${sweep}, ${group} (${done}/${total})`),
    });
    progress(`aligned input ${i + 1}: ${r.sweeps} sweep(s)${r.converged ? ', converged' : ', stopped at the sweep limit'}`);
    out.push(r.permuted);
  }
  return out;
}

function numberOpt(o: MethodOptions, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' ? v : undefined;
}

/**
 * The weight-space merge of `models` (already in the task's layout) the recipe describes.
 * `weights` are the inputs' weights (1 where a recipe gives none).
 */
export function mergeInWeightSpace(r: Recipe, task: Task, models: readonly ParamSet[], base: ParamSet | null, progress: Progress): ParamSet {
  const o = r.options;
  const weights = r.inputs.map((i) => i.weight ?? 1);
  const lambda = numberOpt(o, 'lambda');
  const aligned = r.align === 'weights' ? alignToFirst(task, models, o, progress) : models;
  const needBase = (): ParamSet => {
    if (base === null) throw new MergeCommandError(`method ${r.method} needs a base`);
    return base;
  };
  progress(`merging ${models.length} model(s) with ${r.method}`);
  switch (r.method) {
    case 'average':
      return mergeAverage(aligned, weights);
    case 'task-arithmetic':
      return taskArithmetic(needBase(), aligned, { ...(lambda === undefined ? {} : { lambda }), weights });
    case 'ties':
      return ties(needBase(), aligned, {
        ...(lambda === undefined ? {} : { lambda }),
        ...(numberOpt(o, 'density') === undefined ? {} : { density: numberOpt(o, 'density') }),
        ...(typeof o.scope === 'string' ? { scope: o.scope as TiesScope } : {}),
      });
    case 'dare':
      return dare(needBase(), aligned, {
        p: numberOpt(o, 'p') ?? 0.5,
        seed: numberOpt(o, 'seed') ?? 0,
        ...(typeof o.rescale === 'string' ? { rescale: o.rescale as DareRescale } : {}),
        ...(lambda === undefined ? {} : { lambda }),
        weights,
      });
    case 'slerp':
      return slerp(aligned[0], aligned[1], numberOpt(o, 't') ?? 0.5);
    case 'moe':
      throw new MergeCommandError('moe is not a weight-space merge: it trains a router (see expert-mixture.ts)');
  }
}
