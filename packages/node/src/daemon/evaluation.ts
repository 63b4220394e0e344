/**
 * The aggregator's evaluation of each version: the whole model on the run's test rows and,
 * when trainers train sub-networks, each sub-network cut from the same version (HeteroFL's
 * promise is that a small device can run its slice of the global model on its own). All of
 * them share one worker; each architecture is its own session there.
 */
import { engine, extractSlice, resolveSlice, type Dataset, type ParamSet, type ResolvedSlice } from '@fednode/core';
import type { RunFile } from './run-file.js';
import { modelOf, type AssignedSlice } from './slices.js';

export interface VersionEvaluation {
  readonly accuracy: number;
  readonly loss: number;
  readonly count: number;
  /** Accuracy of each sub-network below the whole model, by its label (`width 0.5`); absent when none is trained. */
  readonly bySlice?: Readonly<Record<string, number>>;
}

interface SubEvaluator {
  readonly slice: AssignedSlice;
  readonly resolved: ResolvedSlice;
  readonly trainer: engine.Trainer;
}

export class VersionEvaluator {
  private readonly run: RunFile;
  private readonly whole: engine.Trainer;
  private partial: readonly AssignedSlice[] = [];
  private subs: SubEvaluator[] | null = null;

  private constructor(run: RunFile, whole: engine.Trainer) {
    this.run = run;
    this.whole = whole;
  }

  static async create(run: RunFile, threads: number): Promise<VersionEvaluator> {
    const whole = await engine.Trainer.create({ model: modelOf(run), optimizer: { kind: 'sgd', momentum: 0 }, seed: run.seed, lr: 0.1, intraOpThreads: threads });
    return new VersionEvaluator(run, whole);
  }

  /** The sub-networks to score besides the whole model, from the next evaluation on. */
  scoreSlices(partial: readonly AssignedSlice[]): void {
    this.partial = partial;
  }

  /** The run's initial model: the seeded initialisation of the whole model. */
  initialParams(): Promise<ParamSet> {
    return this.whole.params();
  }

  async evaluate(params: ParamSet, test: Dataset): Promise<VersionEvaluation> {
    await this.whole.setParams(params);
    const e = await this.whole.evaluate(test);
    if (this.partial.length === 0) return e;
    this.subs ??= await Promise.all(
      this.partial.map(async (slice) => ({
        slice,
        resolved: resolveSlice(slice.slice!, params.specs),
        trainer: await engine.Trainer.create({ model: modelOf(this.run, slice.spec), optimizer: { kind: 'sgd', momentum: 0 }, seed: this.run.seed, lr: 0.1, executor: this.whole.executor }),
      })),
    );
    const bySlice: Record<string, number> = {};
    for (const s of this.subs) {
      await s.trainer.setParams(extractSlice(params, s.resolved));
      bySlice[s.slice.label] = (await s.trainer.evaluate(test)).accuracy;
    }
    return { ...e, bySlice };
  }

  async close(): Promise<void> {
    for (const s of this.subs ?? []) await s.trainer.close();
    await this.whole.close();
  }
}
