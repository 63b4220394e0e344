/**
 * The merge methods by name: a recipe's `method` and `fednode merge --method`'s choices. Apart
 * from the recipe so that the command's flags can list them without loading its validators
 * (ajv and the aggregator's option schemas).
 */
export const MERGE_METHODS = ['average', 'task-arithmetic', 'ties', 'dare', 'slerp', 'moe'] as const;
export type MergeMethod = (typeof MERGE_METHODS)[number];
