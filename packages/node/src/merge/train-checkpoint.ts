import { tasks, type ParamSet, type Task } from '@fednode/core';
import { taskMetadata, writeCheckpoint } from './checkpoint-file.js';

/**
 * Trains a task's whole model from given parameters on one share and returns the result:
 * how the merge checks and tests make their inputs (specialists from one base, or models
 * from different seeds), with the task's own optimiser and schedule and a fixed budget.
 */
export interface TrainFromOptions {
  readonly budget: tasks.TrainingBudget;
  readonly seed: number;
  readonly batch?: number;
  readonly lr?: number;
  readonly threads?: number;
  readonly onStep?: (done: number, total: number, loss: number) => void;
}

export async function trainFrom(task: Task, init: ParamSet, share: tasks.DataShare, o: TrainFromOptions): Promise<ParamSet> {
  const d = task.defaults;
  const lr = o.lr ?? d.lr;
  const trainer = await tasks.createLearner(task.subnet(), {
    optimizer: d.optimizer,
    lr,
    seed: o.seed,
    threads: o.threads ?? 1,
    ...(d.clipGradNorm === undefined ? {} : { clipGradNorm: d.clipGradNorm }),
  });
  try {
    await trainer.setParams(init);
    await tasks.trainLocal(trainer, share, { budget: o.budget, batch: o.batch ?? d.batch, lr, schedule: d.schedule, seed: o.seed, ...(o.onStep === undefined ? {} : { onStep: o.onStep }) });
    return await trainer.params();
  } finally {
    await trainer.close();
  }
}

/** Writes a checkpoint that `fednode merge` recognises (task, dataset and sizes in its metadata). */
export function saveTaskCheckpoint(path: string, task: Task, model: Readonly<Record<string, number>>, params: ParamSet, extra: Record<string, string> = {}): void {
  writeCheckpoint(path, params, { ...taskMetadata(task, model), ...extra });
}
