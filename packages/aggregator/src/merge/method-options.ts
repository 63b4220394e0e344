/**
 * The options each weight-space merge method takes, as JSON-schema property maps (ajv strict
 * mode compatible), so `fednode merge` recipes and one-shot run documents spell them alike.
 */

const num = { type: 'number' } as const;
const unit = { type: 'number', minimum: 0, maximum: 1 } as const;
const int = (minimum: number) => ({ type: 'integer', minimum }) as const;
const seed = { type: 'integer', minimum: 0, maximum: 0xffffffff } as const;

export const WEIGHT_SPACE_METHODS = ['average', 'task-arithmetic', 'ties', 'dare', 'slerp'] as const;
export type WeightSpaceMethod = (typeof WEIGHT_SPACE_METHODS)[number];

/** Each method's option keys (a key a method does not take is refused where these are used, not ignored). */
export const MERGE_METHOD_PROPERTIES: Readonly<Record<WeightSpaceMethod, Readonly<Record<string, unknown>>>> = {
  average: { alignSweeps: int(1), seed },
  'task-arithmetic': { lambda: num },
  ties: { density: unit, lambda: num, scope: { enum: ['tensor', 'model'] } },
  dare: { p: { type: 'number', minimum: 0, exclusiveMaximum: 1 }, seed, rescale: { enum: ['inverse', 'l1'] }, lambda: num },
  slerp: { t: unit, alignSweeps: int(1), seed },
};

/**
 * Methods that build a model of another task from the inputs and must train part of it: the
 * runtime does them through a `ModelAssembler`, because it owns the engine and the data.
 */
export const ASSEMBLY_METHODS = ['moe'] as const;
export type AssemblyMethod = (typeof ASSEMBLY_METHODS)[number];

/** Branch-Train-MiX's options: experts each token mixes, and the routers' brief training. */
export const MOE_METHOD_PROPERTIES: Readonly<Record<string, unknown>> = {
  topK: int(1),
  routerSteps: int(0),
  routerLr: { type: 'number', exclusiveMinimum: 0 },
  routerBatch: int(1),
  seed,
};

/** Which methods merge task vectors from a base (the model the inputs were trained from). */
export const BASE_METHODS: readonly WeightSpaceMethod[] = ['task-arithmetic', 'ties', 'dare'];
/** Which methods weigh their inputs. */
export const WEIGHTED_METHODS: readonly WeightSpaceMethod[] = ['average', 'task-arithmetic', 'dare'];
/** Which methods take models from different initialisations (after weight matching). */
export const ALIGNED_METHODS: readonly WeightSpaceMethod[] = ['average', 'slerp'];
