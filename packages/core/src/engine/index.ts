/** The training engine: graph builder, op registry, autodiff, training-step graphs, the worker executor and the trainer. */
export { EngineError, type EngineErrorCode } from './errors.js';
export type { DType, FloatType } from './dtype.js';
export { BATCH, type Dim, type Shape } from './shape.js';
export { Graph, Value, OPSET, attr, type Attr, type ParamInit, type BuiltModel, type TensorInfo, type ModelOptions, type FloatArray } from './graph.js';
export { decodeModel } from './onnx-proto.js';
export { registeredOps, defineOp, apply, type OpDef, type OpContext } from './op.js';
export * from './ops/index.js';
export { gradients } from './autodiff.js';
export { type OptimizerSpec, type SgdSpec, type AdamWSpec } from './optimizer.js';
export { buildTrainingGraph, type TrainingGraph, type TrainingGraphOptions } from './training-graph.js';
export { createSession, runSession, toTensor, type SessionOptions, type ExecutionProvider, type TensorData } from './session.js';
export { gradCheck, type GradCheckInput, type GradCheckOptions, type GradCheckResult } from './gradcheck.js';
export { mlp, cnn, initParams, type ModelGraph, type ModelGraphOptions } from './models.js';
export { checkProvider } from './session.js';
export { Executor, executorWorkerPath, type ExecutorOptions, type RunOptions, type SessionHandle, type WireTensor } from './executor.js';
export { buildEvalModel, exportInferenceModel, type ExportOptions } from './evaluation.js';
export { Trainer, MODEL_NAMES, modelByName, type Evaluation, type ModelName, type TrainerOptions } from './trainer.js';
export { fit, scheduledLr, LR_SCHEDULES, type EpochReport, type FitOptions, type FitReport, type LrSchedule } from './fit.js';
