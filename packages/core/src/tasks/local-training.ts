import { Trainer, type TensorExecutor, type ExecutionProvider, type FeedBatch, type OptimizerSpec } from '../engine/index.js';
import { learningRate, type LrSchedule } from '../engine/schedule.js';
import type { DataShare, Subnetwork, Task, TrainingBudget } from './types.js';

/**
 * The one local training loop every runtime uses, for every task: a budget of epochs or steps
 * over a share, the one learning-rate schedule, two steps in flight (the next batch is built
 * and posted while the worker runs the current one).
 */
export interface LocalTrainingOptions {
  readonly budget: TrainingBudget;
  readonly batch: number;
  readonly lr: number;
  readonly schedule: LrSchedule;
  /** Seeds the batch order (or draws). */
  readonly seed: number;
  /** After each step, in order. */
  readonly onStep?: (done: number, total: number, loss: number) => void;
  /** Every `steps` steps (and after the last), with no step in flight: evaluations, progress lines. */
  readonly every?: { readonly steps: number; readonly run: (done: number) => Promise<void> };
  /** Stop once training has taken this long (seconds); the schedule still spans the whole budget. */
  readonly timeLimitS?: number;
  /** Stop after this many steps (partial work in virtual time); the schedule still spans the whole budget. */
  readonly stopAfter?: number;
}

export interface LocalTrainingReport {
  /** Mean training loss over the steps. */
  readonly loss: number;
  readonly steps: number;
  /** Examples (rows or sequences) the steps saw. */
  readonly samples: number;
  /** Predictions the loss scored: the elements of every batch's targets `y` (a text window predicts each position). */
  readonly targets: number;
  readonly seconds: number;
}

/** Steps a budget takes on a share. */
export function budgetSteps(budget: TrainingBudget, share: DataShare, batch: number): number {
  return 'steps' in budget ? budget.steps : budget.epochs * Math.ceil(share.examples / batch);
}

function* budgetBatches(budget: TrainingBudget, share: DataShare, batch: number, seed: number): Generator<FeedBatch> {
  if ('steps' in budget) yield* share.draw(batch, seed, budget.steps);
  else for (let e = 0; e < budget.epochs; e++) yield* share.epoch(batch, seed, e);
}

export async function trainLocal(trainer: Trainer, share: DataShare, o: LocalTrainingOptions): Promise<LocalTrainingReport> {
  const total = budgetSteps(o.budget, share, o.batch);
  const t0 = performance.now();
  const inflight: { size: number; targets: number; loss: Promise<number> }[] = [];
  let lossSum = 0;
  let samples = 0;
  let targets = 0;
  let done = 0;
  let hookMs = 0;
  const settle = async (): Promise<void> => {
    const head = inflight.shift();
    if (head === undefined) return;
    const loss = await head.loss;
    lossSum += loss;
    samples += head.size;
    targets += head.targets;
    done++;
    o.onStep?.(done, total, loss);
  };
  try {
    let step = 0;
    let ranAt = 0;
    const hook = async (): Promise<void> => {
      const h0 = performance.now();
      await o.every!.run(done);
      ranAt = done;
      hookMs += performance.now() - h0;
    };
    for (const b of budgetBatches(o.budget, share, o.batch, o.seed)) {
      if (o.timeLimitS !== undefined && (performance.now() - t0 - hookMs) / 1000 >= o.timeLimitS) break;
      if (o.stopAfter !== undefined && step >= o.stopAfter) break;
      const y = b.feeds.y;
      inflight.push({ size: b.size, targets: y === undefined ? b.size : y.dims.reduce((a, d) => a * d, 1), loss: trainer.step(b, learningRate(o.schedule, o.lr, step++, total)) });
      if (inflight.length >= 2) await settle();
      if (o.every !== undefined && step % o.every.steps === 0) {
        while (inflight.length > 0) await settle();
        await hook();
      }
    }
    while (inflight.length > 0) await settle();
    if (o.every !== undefined && ranAt !== done) await hook();
  } finally {
    // A failed step must not leave the others' rejections unhandled.
    await Promise.allSettled(inflight.map((f) => f.loss));
  }
  return { loss: done === 0 ? 0 : lossSum / done, steps: done, samples, targets, seconds: (performance.now() - t0 - hookMs) / 1000 };
}

export interface LearnerOptions {
  readonly optimizer: OptimizerSpec;
  readonly lr: number;
  readonly seed: number;
  readonly clipGradNorm?: number;
  /** Build with FedProx's proximal term (mu may be 0). */
  readonly proximalMu?: number;
  /** Also build raw gradients into the step (`Trainer.gradients`). */
  readonly returnGradients?: boolean;
  readonly threads?: number;
  readonly provider?: ExecutionProvider;
  readonly executor?: TensorExecutor;
}

/** A trainer of a task's sub-network (onnxruntime in a worker thread). */
export function createLearner(subnet: Subnetwork, o: LearnerOptions): Promise<Trainer> {
  return Trainer.create({
    model: () => subnet.build(),
    optimizer: o.optimizer,
    seed: o.seed,
    lr: o.lr,
    ...(o.clipGradNorm === undefined ? {} : { clipGradNorm: o.clipGradNorm }),
    ...(o.proximalMu === undefined ? {} : { proximal: true, proximalMu: o.proximalMu }),
    ...(o.returnGradients === true ? { returnGradients: true } : {}),
    ...(o.threads === undefined ? {} : { intraOpThreads: o.threads }),
    ...(o.provider === undefined ? {} : { provider: o.provider }),
    ...(o.executor === undefined ? {} : { executor: o.executor }),
  });
}

/** Held-out loss and accuracy of the trainer's current parameters on the task's test set. */
export function evaluateOn(trainer: Trainer, task: Task, limit?: number) {
  return trainer.evaluateBatches(task.testSet(limit).batches());
}
