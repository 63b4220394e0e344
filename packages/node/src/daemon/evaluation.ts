/**
 * The aggregator's evaluation of each version: the whole model on the run's held-out set and,
 * when trainers train sub-networks, each sub-network cut from the same version (HeteroFL's
 * promise is that a small device can run its slice of the global model on its own). All of
 * them share one worker; each architecture is its own session there.
 */
import { engine, extractSlice, resolveSlice, sameSpecs, tasks, type ParamSet, type ResolvedSlice, type Task, type TensorSpec } from '@fednode/core';
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
  private readonly otherTask: (specs: readonly TensorSpec[]) => Task | null;
  /** The learner of a version in another task's layout (an assembled mixture), made when first needed. */
  private other: { readonly specs: readonly TensorSpec[]; readonly trainer: engine.Trainer } | null = null;

  private constructor(run: RunFile, whole: engine.Trainer, otherTask: (specs: readonly TensorSpec[]) => Task | null) {
    this.run = run;
    this.task = taskOf(run);
    this.whole = whole;
    this.otherTask = otherTask;
  }

  /** `otherTask`: the task of a version whose layout is not the run task's (null: none is expected). */
  static async create(run: RunFile, threads: number, otherTask: (specs: readonly TensorSpec[]) => Task | null = () => null): Promise<VersionEvaluator> {
    const whole = await tasks.createLearner(taskOf(run).subnet(), { optimizer: EVAL_OPTIMIZER, seed: run.seed, lr: 0.1, threads });
    return new VersionEvaluator(run, whole, otherTask);
  }

  /** The sub-networks to score besides the whole model, from the next evaluation on. */
  scoreSlices(partial: readonly AssignedSlice[]): void {
    this.partial = partial;
  }

  async evaluate(params: ParamSet, test: tasks.EvalSet): Promise<VersionEvaluation> {
    if (!sameSpecs(params.specs, this.task.specs)) return this.evaluateOther(params, test);
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

  private async evaluateOther(params: ParamSet, test: tasks.EvalSet): Promise<VersionEvaluation> {
    if (this.other === null || !sameSpecs(this.other.specs, params.specs)) {
      const task = this.otherTask(params.specs);
      if (task === null) throw new Error(`the version's tensors are not the layout of task ${this.task.name}, nor of a model this run assembles`);
      await this.other?.trainer.close();
      this.other = { specs: params.specs, trainer: await tasks.createLearner(task.subnet(), { optimizer: EVAL_OPTIMIZER, seed: this.run.seed, lr: 0.1, executor: this.whole.executor }) };
    }
    await this.other.trainer.setParams(params);
    return this.other.trainer.evaluateBatches(test.batches());
  }

  async close(): Promise<void> {
    await this.other?.trainer.close();
    for (const s of this.subs ?? []) await s.trainer.close();
    await this.whole.close();
  }
}
