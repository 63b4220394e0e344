/**
 * The aggregator's evaluation of each version: the whole model on the run's held-out set and,
 * when trainers train sub-networks, each sub-network cut from the same version (HeteroFL's
 * promise is that a small device can run its slice of the global model on its own). All of
 * them share one worker; each architecture is its own session there.
 */
import { engine, extractSlice, resolveSlice, tasks, type ParamSet, type ResolvedSlice, type Task } from '@fednode/core';
import { taskOf, type RunFile } from './run-file.js';
import type { AssignedSlice } from './slices.js';

export interface VersionEvaluation {
  readonly accuracy: number;
  readonly loss: number;
  readonly count: number;
  /** Accuracy of each sub-network below the whole model, by its label (`width 0.5`); absent when none is trained. */
  readonly bySlice?: Readonly<Record<string, number>>;
  /** Held-out loss of each of those sub-networks, by label. */
  readonly lossBySlice?: Readonly<Record<string, number>>;
}

interface SubEvaluator {
  readonly slice: AssignedSlice;
  readonly resolved: ResolvedSlice;
  readonly trainer: engine.Trainer;
}

const EVAL_OPTIMIZER = { kind: 'sgd', momentum: 0 } as const;

export class VersionEvaluator {
  private readonly run: RunFile;
  private readonly task: Task;
  private readonly whole: engine.Trainer;
  private partial: readonly AssignedSlice[] = [];
  private subs: SubEvaluator[] | null = null;

  private constructor(run: RunFile, whole: engine.Trainer) {
    this.run = run;
    this.task = taskOf(run);
    this.whole = whole;
  }

  static async create(run: RunFile, threads: number): Promise<VersionEvaluator> {
    const whole = await tasks.createLearner(taskOf(run).subnet(), { optimizer: EVAL_OPTIMIZER, seed: run.seed, lr: 0.1, threads });
    return new VersionEvaluator(run, whole);
  }

  /** The sub-networks to score besides the whole model, from the next evaluation on. */
  scoreSlices(partial: readonly AssignedSlice[]): void {
    this.partial = partial;
  }

  /** The run's initial model: the task's seeded initialisation of the whole model. */
  initialParams(): Promise<ParamSet> {
    return Promise.resolve(this.task.initialParams(this.run.seed));
  }

  async evaluate(params: ParamSet, test: tasks.EvalSet): Promise<VersionEvaluation> {
    await this.whole.setParams(params);
    const e = await this.whole.evaluateBatches(test.batches());
    if (this.partial.length === 0) return e;
    this.subs ??= await Promise.all(
      this.partial.map(async (slice) => ({
        slice,
        resolved: resolveSlice(slice.slice!, params.specs),
        trainer: await tasks.createLearner(this.task.subnet(slice.spec), { optimizer: EVAL_OPTIMIZER, seed: this.run.seed, lr: 0.1, executor: this.whole.executor }),
      })),
    );
    const bySlice: Record<string, number> = {};
    const lossBySlice: Record<string, number> = {};
    for (const s of this.subs) {
      await s.trainer.setParams(extractSlice(params, s.resolved));
      const r = await s.trainer.evaluateBatches(test.batches());
      bySlice[s.slice.label] = r.accuracy;
      lossBySlice[s.slice.label] = r.loss;
    }
    return { ...e, bySlice, lossBySlice };
  }

  async close(): Promise<void> {
    for (const s of this.subs ?? []) await s.trainer.close();
    await this.whole.close();
  }
}
