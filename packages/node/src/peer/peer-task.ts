/**
 * What a decentralised peer trains, from the run's task: its share of the data (drawn as an
 * endless seeded stream of batches), the gradients of a batch at given parameters (DeMo), inner
 * optimiser steps (DiLoCo), and held-out evaluation. Every session lives in one executor's
 * worker thread.
 */
import { createTask, tasks, type ParamSet, type Task, type engine } from '@fednode/core';
import type { PeerRunFile } from './peer-run-file.js';
import { peerBatchSeed } from './batch-seed.js';

export interface PeerTaskOptions {
  /** This peer's share of the data (null: all of it, the single-process baseline). */
  readonly shard: number | null;
  /** DiLoCo's inner optimiser; null for DeMo, whose peers send gradients. */
  readonly inner: { readonly weightDecay: number; readonly clipGradNorm?: number } | null;
  readonly threads?: number;
}

export function peerTaskOf(run: Pick<PeerRunFile, 'task'>): Task {
  return createTask(run.task.name, { dataset: run.task.dataset, ...(run.task.model === undefined ? {} : { model: run.task.model }) });
}

export class PeerTask {
  private readonly batches: Iterator<engine.FeedBatch>;
  private innerFresh: ParamSet | null = null;
  private innerKeep: ParamSet | null = null;

  private constructor(
    readonly task: Task,
    readonly share: tasks.DataShare,
    private readonly evalSet: tasks.EvalSet,
    private readonly grad: engine.Trainer | null,
    private readonly inner: engine.Trainer | null,
    private readonly evaluator: engine.Trainer,
    batch: number,
    seed: number,
  ) {
    this.batches = share.draw(batch, seed, Number.MAX_SAFE_INTEGER)[Symbol.iterator]();
  }

  static async create(run: PeerRunFile, o: PeerTaskOptions): Promise<PeerTask> {
    const task = peerTaskOf(run);
    const share = task.share(o.shard === null ? 1 : run.data.shares, o.shard, run.data.partition, run.seed);
    const whole = task.subnet();
    const threads = o.threads ?? 1;
    const evaluator = await tasks.createLearner(whole, { optimizer: { kind: 'sgd', momentum: 0 }, lr: 1, seed: run.seed, threads });
    const executor = evaluator.executor;
    // lr is fed as 0 for gradients: the step's parameter outputs are unused, only the raw gradients matter.
    const grad = o.inner === null ? await tasks.createLearner(whole, { optimizer: { kind: 'sgd', momentum: 0 }, lr: 1, seed: run.seed, executor, returnGradients: true }) : null;
    const inner =
      o.inner === null
        ? null
        : await tasks.createLearner(whole, { optimizer: { kind: 'adamw', weightDecay: o.inner.weightDecay }, lr: run.sync.lr, seed: run.seed, executor, clipGradNorm: o.inner.clipGradNorm ?? 1 });
    return new PeerTask(task, share, task.testSet(run.data.evalSamples ?? 2048), grad, inner, evaluator, run.sync.batch, peerBatchSeed(run.seed, o.shard));
  }

  get specs() {
    return this.task.specs;
  }

  private next(): engine.FeedBatch {
    return this.batches.next().value as engine.FeedBatch;
  }

  /** The mean loss and gradients of the next batch at `params`. */
  async gradients(params: ParamSet): Promise<{ loss: number; grads: ParamSet }> {
    if (this.grad === null) throw new Error('this peer task was built for inner steps, not gradients');
    await this.grad.setParams(params);
    return this.grad.gradients(this.next());
  }

  /** Restarts the inner model from `params`: with fresh optimiser state, or keeping it (DiLoCo after an outer step). Takes effect at the next inner step. */
  restartInner(params: ParamSet, keepOptimizerState: boolean): void {
    if (keepOptimizerState) {
      this.innerKeep = params.clone();
      this.innerFresh = null;
    } else {
      this.innerFresh = params.clone();
      this.innerKeep = null;
    }
  }

  /** One inner optimiser step on the next batch; returns the loss. */
  async innerStep(lr: number): Promise<number> {
    const t = this.inner!;
    if (this.innerFresh !== null) await t.setParams(this.innerFresh);
    if (this.innerKeep !== null) await t.setParams(this.innerKeep, { keepOptimizerState: true });
    this.innerFresh = null;
    this.innerKeep = null;
    return t.step(this.next(), lr);
  }

  /** The inner model's parameters now (a copy). */
  innerParams(): Promise<ParamSet> {
    return this.inner!.params();
  }

  /** Held-out loss and accuracy of `params`. */
  async evaluate(params: ParamSet): Promise<{ loss: number; accuracy: number; samples: number }> {
    await this.evaluator.setParams(params);
    const e = await this.evaluator.evaluateBatches(this.evalSet.batches());
    return { loss: e.loss, accuracy: e.accuracy, samples: e.count };
  }

  async close(): Promise<void> {
    await this.grad?.close();
    await this.inner?.close();
    await this.evaluator.close();
  }
}
