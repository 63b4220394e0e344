/**
 * @fednode/core in a browser (the "browser" export condition, which bundlers pick): what a
 * browser peer runs — the training engine over onnxruntime-web, parameter sets, slices, codecs
 * with error feedback, updates, the wire format and local training. It is the same code Node
 * runs; files, worker threads and onnxruntime-node stay behind the platform seams (a bundler
 * swaps each `x.ts` for its `x.browser.ts` sibling). Not here: dataset loaders, checkpoints on
 * disk, the encode pool and the text corpora, which read files or start threads.
 */
export * from './portable.js';

/** The training engine, as in Node (its Executor and onnxruntime-node sessions say to use createWebExecutor). */
export * as engine from './engine/index.js';
export { EngineError, type EngineErrorCode } from './engine/errors.js';
export { createWebExecutor, crossOriginIsolated, type WebExecutorOptions, type WebProvider } from './engine/ort-web.js';

export { batches, type Batch } from './data/batches.js';
export type { Dataset } from './data/dataset.js';
export { mlpSubnetwork, MNIST_MLP_SUPERNET, type MlpSupernetConfig } from './models/mlp-supernet.js';
export { budgetSteps, trainLocal, type LocalTrainingOptions, type LocalTrainingReport } from './tasks/local-training.js';
export { datasetShare } from './tasks/dataset-share.js';
export type { DataShare, TrainingBudget } from './tasks/types.js';
