import type { ParamSet } from '@fednode/core';
import { AggregatorError } from '../errors.js';
import { dare, mergeAverage, slerp, taskArithmetic, ties, weightMatching, weightMatchingBySpec, type DareRescale, type MlpLayer, type PermutationSpec, type TiesScope } from '../merge/index.js';

/** A one-shot run's merge method and its options (the keys `fednode merge` recipes take for it). */
export type OneShotMethod =
  | { readonly kind: 'average'; readonly alignSweeps?: number; readonly seed?: number }
  | { readonly kind: 'task-arithmetic'; readonly lambda?: number }
  | { readonly kind: 'ties'; readonly density?: number; readonly lambda?: number; readonly scope?: TiesScope }
  | { readonly kind: 'dare'; readonly p?: number; readonly seed?: number; readonly rescale?: DareRescale; readonly lambda?: number }
  | { readonly kind: 'slerp'; readonly t?: number; readonly alignSweeps?: number; readonly seed?: number }
  | MoeMethod;

/** Experts assembled into a mixture (Branch-Train-MiX): a `ModelAssembler` builds it, not `mergeModels`. */
export interface MoeMethod {
  readonly kind: 'moe';
  readonly topK?: number;
  readonly routerSteps?: number;
  readonly routerBatch?: number;
  readonly routerLr?: number;
  readonly seed?: number;
}

/** Whether `method` is built by the runtime's assembler rather than by weight arithmetic here. */
export function isAssembly(method: OneShotMethod): method is MoeMethod {
  return method.kind === 'moe';
}

/** Weights summing to 1, so a task-vector method's λ = 1 adds the weighted mean task vector (not the sum). */
function normalised(weights: readonly number[]): number[] {
  const total = weights.reduce((a, w) => a + w, 0);
  return weights.map((w) => w / total);
}

/** The dense layers of an MLP laid out as the mlp task lays it out (`*.weight` with its `*.bias`), in order. */
function denseLayers(model: ParamSet): MlpLayer[] {
  const notDense = model.specs.find((s) => s.name.endsWith('.weight') && s.shape.length !== 2);
  const layers = model.specs.filter((s) => s.name.endsWith('.weight')).map((s) => ({ weight: s.name, bias: s.name.replace(/\.weight$/, '.bias') }));
  const names = new Set(model.specs.map((s) => s.name));
  const unpaired = layers.find((l) => !names.has(l.bias));
  const why =
    notDense !== undefined ? `"${notDense.name}" is ${notDense.shape.length}-D`
    : layers.length < 2 ? `it has ${layers.length} dense layer(s)`
    : unpaired !== undefined ? `"${unpaired.weight}" has no "${unpaired.bias}"`
    : layers.length * 2 !== model.specs.length ? 'it holds tensors besides dense weights and biases'
    : null;
  if (why !== null) {
    throw new AggregatorError('AGG_CONFIG', `differentInit weight-matches the models, and without the task's permutation spec (which daemons lend for cnn and transformer; the simulator does not) only an MLP can be matched: ${why}`);
  }
  return layers;
}

/** Throws naming why, unless `model` can be weight-matched without a permutation spec (an MLP). */
export function checkAlignable(model: ParamSet): void {
  denseLayers(model);
}

/** Every model after the first, permuted to match the first (by `spec` when the runtime gave one). */
function alignToFirst(models: readonly ParamSet[], o: { readonly alignSweeps?: number; readonly seed?: number }, spec: PermutationSpec | undefined): ParamSet[] {
  const opts = { ...(o.alignSweeps === undefined ? {} : { maxSweeps: o.alignSweeps }), ...(o.seed === undefined ? {} : { seed: o.seed }) };
  if (spec !== undefined) return [models[0], ...models.slice(1).map((m) => weightMatchingBySpec(models[0], m, spec, opts).permuted)];
  const layers = denseLayers(models[0]);
  return [models[0], ...models.slice(1).map((m) => weightMatching(models[0], m, layers, opts).permuted)];
}

/**
 * Merges `models` (in merge order) with `method`. `base`: the version-0 model they were
 * trained from; `weights`: per model (examples or 1). `differentInit`: the models come from
 * different initialisations and are weight-matched to the first before merging (by
 * `alignment`, the model's permutation spec, when the runtime gave one).
 */
export function mergeModels(method: OneShotMethod, base: ParamSet, models: readonly ParamSet[], weights: readonly number[], differentInit: boolean, alignment?: PermutationSpec): ParamSet {
  switch (method.kind) {
    case 'average':
      return mergeAverage(differentInit ? alignToFirst(models, method, alignment) : models, weights);
    case 'slerp':
      if (models.length !== 2) throw new AggregatorError('AGG_CONFIG', `slerp interpolates two models; the merge has ${models.length}`);
      {
        const [a, b] = differentInit ? alignToFirst(models, method, alignment) : models;
        return slerp(a, b, method.t ?? 0.5);
      }
    case 'task-arithmetic':
      return taskArithmetic(base, models, { ...(method.lambda === undefined ? {} : { lambda: method.lambda }), weights: normalised(weights) });
    case 'ties':
      return ties(base, models, { ...(method.lambda === undefined ? {} : { lambda: method.lambda }), ...(method.density === undefined ? {} : { density: method.density }), ...(method.scope === undefined ? {} : { scope: method.scope }) });
    case 'dare':
      return dare(base, models, { p: method.p ?? 0.5, seed: method.seed ?? 0, ...(method.rescale === undefined ? {} : { rescale: method.rescale }), ...(method.lambda === undefined ? {} : { lambda: method.lambda }), weights: normalised(weights) });
    case 'moe':
      throw new AggregatorError('AGG_CONFIG', 'moe is assembled by the runtime (a ModelAssembler), not merged in weight space');
  }
}
