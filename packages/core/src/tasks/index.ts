export type { DataShare, EvalSet, LocalDefaults, PartitionSpec, SliceAxis, Subnetwork, SubnetSpec, Task, TaskFactory, TaskOptions, TrainingBudget } from './types.js';
export { TaskError, type TaskErrorCode } from './errors.js';
export { TASKS, createTask, taskFactory } from './registry.js';
export { subnetLabel } from './subnet-label.js';
export { budgetSteps, createLearner, evaluateOn, trainLocal, type LearnerOptions, type LocalTrainingOptions, type LocalTrainingReport } from './local-training.js';
export { textData, type TextDatasetName, type TransformerSizes } from './text.js';
