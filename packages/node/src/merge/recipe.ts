import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { describeSchemaErrors, parseYamlText } from '../schema-errors.js';
import { MERGE_METHOD_PROPERTIES, MOE_METHOD_PROPERTIES } from '@fednode/aggregator';
import { MergeCommandError } from './errors.js';
import { MERGE_METHODS, type MergeMethod } from './method-names.js';

/**
 * A merge recipe: what `fednode merge` reads from YAML (`--recipe`) or builds from its flags,
 * and writes into the merged file's metadata, so a merge can be repeated from its output.
 *
 *   task: { name: mlp, dataset: mnist }     # optional: fednode's checkpoints say it
 *   inputs: [a.safetensors, { path: b.safetensors, weight: 2 }]
 *   base: init.safetensors                  # task-arithmetic, ties, dare
 *   method: ties
 *   options: { density: 0.2, lambda: 1 }
 *   align: weights                          # weight-match inputs to the first (average, slerp)
 *   output: merged.safetensors
 */

export interface RecipeInput {
  readonly path: string;
  readonly weight?: number;
}

export interface RecipeTask {
  readonly name: string;
  readonly dataset?: string;
  readonly model?: Readonly<Record<string, number>>;
}

export type MethodOptions = Readonly<Record<string, number | string>>;

export interface Recipe {
  readonly task?: RecipeTask;
  readonly inputs: readonly RecipeInput[];
  readonly base?: string;
  readonly method: MergeMethod;
  readonly options: MethodOptions;
  readonly align: 'none' | 'weights';
  readonly output?: string;
}

const num = { type: 'number' } as const;
const options = (properties: Readonly<Record<string, unknown>>) => ({ type: 'object', additionalProperties: false, properties }) as const;

/** Each method's options (ajv-strict): an option a method does not take is refused, not ignored. They are the aggregator's (one-shot runs take the same). */
export const METHOD_OPTIONS: Readonly<Record<MergeMethod, Readonly<Record<string, unknown>>>> = {
  average: options(MERGE_METHOD_PROPERTIES.average),
  'task-arithmetic': options(MERGE_METHOD_PROPERTIES['task-arithmetic']),
  ties: options(MERGE_METHOD_PROPERTIES.ties),
  dare: options(MERGE_METHOD_PROPERTIES.dare),
  slerp: options(MERGE_METHOD_PROPERTIES.slerp),
  moe: options(MOE_METHOD_PROPERTIES),
};

/** Which methods take what: a base, per-input weights, alignment. */
export const NEEDS_BASE: readonly MergeMethod[] = ['task-arithmetic', 'ties', 'dare'];
export const TAKES_WEIGHTS: readonly MergeMethod[] = ['average', 'task-arithmetic', 'dare'];
export const TAKES_ALIGN: readonly MergeMethod[] = ['average', 'slerp'];

export const RECIPE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['inputs', 'method'],
  properties: {
    task: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: { name: { type: 'string' }, dataset: { type: 'string' }, model: { type: 'object', additionalProperties: { type: 'integer', minimum: 1 } } },
    },
    inputs: {
      type: 'array',
      minItems: 1,
      items: {
        oneOf: [
          { type: 'string', minLength: 1 },
          { type: 'object', additionalProperties: false, required: ['path'], properties: { path: { type: 'string', minLength: 1 }, weight: num } },
        ],
      },
    },
    base: { type: 'string', minLength: 1 },
    method: { enum: [...MERGE_METHODS] },
    options: { type: 'object' },
    align: { enum: ['none', 'weights'] },
    output: { type: 'string', minLength: 1 },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
const validateRecipe = ajv.compile(RECIPE_SCHEMA);
const validateOptions = new Map<MergeMethod, ValidateFunction>(MERGE_METHODS.map((m) => [m, ajv.compile(METHOD_OPTIONS[m])]));

/**
 * A recipe from a parsed document: schema errors name their path; relative paths are made
 * absolute against `dir` (the recipe file's folder), and the cross-field rules are checked.
 */
export function recipeFromDocument(doc: unknown, source: string, dir: string): Recipe {
  if (!validateRecipe(doc)) throw new MergeCommandError(`${source}: ${describeSchemaErrors(validateRecipe.errors ?? []).join('; ')}`);
  const d = doc as {
    task?: RecipeTask;
    inputs: (string | RecipeInput)[];
    base?: string;
    method: MergeMethod;
    options?: Record<string, number | string>;
    align?: 'none' | 'weights';
    output?: string;
  };
  const recipe: Recipe = {
    ...(d.task === undefined ? {} : { task: d.task }),
    inputs: d.inputs.map((i) => (typeof i === 'string' ? { path: resolve(dir, i) } : { ...i, path: resolve(dir, i.path) })),
    ...(d.base === undefined ? {} : { base: resolve(dir, d.base) }),
    method: d.method,
    options: d.options ?? {},
    align: d.align ?? 'none',
    ...(d.output === undefined ? {} : { output: resolve(dir, d.output) }),
  };
  checkRecipe(recipe, source);
  return recipe;
}

/** Reads a YAML recipe file. */
export function loadRecipe(path: string): Recipe {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MergeCommandError(`cannot read recipe ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return recipeFromDocument(parseYamlText(text, path, (m) => new MergeCommandError(m)), path, dirname(resolve(path)));
}

/** The rules a schema cannot say: the method's options, its inputs, base, weights and alignment. */
export function checkRecipe(r: Recipe, source: string): void {
  const v = validateOptions.get(r.method)!;
  if (!v(r.options)) throw new MergeCommandError(`${source}: method ${r.method}: ${describeSchemaErrors(v.errors ?? []).map((l) => `options${l.startsWith('(') ? '' : '.'}${l.replace(/^\(top level\)/, '')}`).join('; ')}`);
  if (NEEDS_BASE.includes(r.method) && r.base === undefined) throw new MergeCommandError(`${source}: method ${r.method} merges task vectors from a base: give base (the checkpoint the inputs were trained from)`);
  if (!NEEDS_BASE.includes(r.method) && r.base !== undefined) throw new MergeCommandError(`${source}: method ${r.method} takes no base (only ${NEEDS_BASE.join(', ')} do)`);
  if (!TAKES_WEIGHTS.includes(r.method) && r.inputs.some((i) => i.weight !== undefined)) throw new MergeCommandError(`${source}: method ${r.method} takes no per-input weights (only ${TAKES_WEIGHTS.join(', ')} do)`);
  if (r.align === 'weights' && !TAKES_ALIGN.includes(r.method)) throw new MergeCommandError(`${source}: align: weights is for ${TAKES_ALIGN.join(' and ')} (models from different initialisations); ${r.method} merges task vectors of one base`);
  if (r.method === 'slerp' && r.inputs.length !== 2) throw new MergeCommandError(`${source}: slerp interpolates two models; ${r.inputs.length} inputs given`);
  if (r.method === 'moe' && r.inputs.length < 2) throw new MergeCommandError(`${source}: moe assembles at least two specialists into experts; ${r.inputs.length} given`);
  // Task-vector methods may take one input (θ₀ + λ·τ: scaling a fine-tune); averaging one model is a copy.
  if (r.method === 'average' && r.inputs.length < 2) throw new MergeCommandError(`${source}: average needs at least two inputs`);
}
