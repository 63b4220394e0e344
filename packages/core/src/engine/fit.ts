import { batchCount, batches } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import { EngineError } from './errors.js';
import { LR_SCHEDULES, learningRate, type LrScheduleKind } from './schedule.js';
import type { Evaluation, Trainer } from './trainer.js';

/**
 * The local training loop: epochs of seeded shuffled batches through a Trainer with a
 * learning-rate schedule, evaluating after each epoch. Two steps are kept in flight, so the
 * next batch is built and posted while the worker runs the current one.
 */

export type LrSchedule = LrScheduleKind;
export { LR_SCHEDULES };

/** The learning rate of step `step` (0-based) of `total`: cosine decays from base to 0 (SGDR without restarts). */
export function scheduledLr(schedule: LrSchedule, base: number, step: number, total: number): number {
  return learningRate({ kind: schedule }, base, step, total);
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  /** Seeds the batch order (each epoch draws from Rng.derive(seed, epoch)). */
  seed: number;
  lr: number;
  schedule?: LrSchedule;
  /** Rows of `train` to use (a client's share); default all. */
  indices?: ArrayLike<number>;
  /** Evaluated after each epoch when given. */
  test?: Dataset;
  /** After each step (in order) with the number of steps done in this epoch and the step's loss. */
  onStep?: (done: number, loss: number) => void;
  onEpoch?: (epoch: EpochReport) => void;
}

export interface EpochReport {
  /** 1-based. */
  readonly epoch: number;
  /** Mean training loss over the epoch's rows. */
  readonly trainLoss: number;
  readonly samples: number;
  /** Seconds spent training (not evaluating). */
  readonly seconds: number;
  readonly test: Evaluation | null;
}

export interface FitReport {
  readonly epochs: EpochReport[];
  readonly samples: number;
  readonly trainSeconds: number;
  readonly steps: number;
}

export async function fit(trainer: Trainer, train: Dataset, opts: FitOptions): Promise<FitReport> {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new EngineError('ENGINE_STATE', `epochs ${opts.epochs} must be a positive integer`);
  const rows = opts.indices?.length ?? train.count;
  const perEpoch = batchCount(rows, opts.batchSize);
  const total = perEpoch * opts.epochs;
  const schedule = opts.schedule ?? 'constant';
  const reports: EpochReport[] = [];
  let step = 0;
  let trainSeconds = 0;
  let samples = 0;
  for (let e = 0; e < opts.epochs; e++) {
    const t0 = performance.now();
    let lossSum = 0;
    let seen = 0;
    let done = 0;
    const inflight: { size: number; loss: Promise<number> }[] = [];
    const settle = async (): Promise<void> => {
      const head = inflight.shift();
      if (head === undefined) return;
      const loss = await head.loss;
      lossSum += loss * head.size;
      seen += head.size;
      opts.onStep?.(++done, loss);
    };
    try {
      for (const b of batches(train, { batchSize: opts.batchSize, seed: opts.seed, epoch: e, indices: opts.indices })) {
        inflight.push({ size: b.size, loss: trainer.step(b, scheduledLr(schedule, opts.lr, step++, total)) });
        if (inflight.length >= 2) await settle();
      }
      while (inflight.length > 0) await settle();
    } finally {
      // A failed step leaves the rest in flight; wait for them so none rejects unobserved.
      await Promise.allSettled(inflight.map((f) => f.loss));
    }
    const seconds = (performance.now() - t0) / 1000;
    trainSeconds += seconds;
    samples += seen;
    const test = opts.test === undefined ? null : await trainer.evaluate(opts.test);
    const report: EpochReport = { epoch: e + 1, trainLoss: seen === 0 ? 0 : lossSum / seen, samples: seen, seconds, test };
    reports.push(report);
    opts.onEpoch?.(report);
  }
  return { epochs: reports, samples, trainSeconds, steps: step };
}
