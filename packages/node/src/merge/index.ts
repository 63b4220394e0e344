/**
 * `fednode merge` as a library: recipes, the merge run, the checkpoints it reads and writes,
 * and the pieces the merge checks build their inputs with (specialists on SOTU eras).
 */
export { runMerge, type MergeRunOptions, type MergeSummary } from './run.js';
export { MERGE_METHODS, type MergeMethod } from './method-names.js';
export { loadRecipe, recipeFromDocument, type Recipe, type RecipeInput, type RecipeTask } from './recipe.js';
export { readCheckpoint, writeCheckpoint, taskMetadata, type CheckpointFile } from './checkpoint-file.js';
export { MergeCommandError } from './errors.js';
export { META_SPEAKERS } from './expert-mixture.js';
export { eraShares, speakerShare } from './era-shares.js';
export { saveTaskCheckpoint, trainFrom, type TrainFromOptions } from './train-checkpoint.js';
