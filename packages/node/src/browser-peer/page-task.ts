import { Rng } from '@fednode/kernels';
import { ParamSet, datasetShare, engine, mlpSubnetwork, MNIST_MLP_SUPERNET, type Dataset, type DataShare } from '@fednode/core/browser';
import type { GradientSource } from '../peer/algorithms.js';
import { peerBatchSeed } from '../peer/batch-seed.js';

/**
 * What a browser peer trains: the run's MNIST MLP on the page's rows, as a daemon peer's
 * PeerTask does on its share (the same batch draw, the same gradient graph), run by
 * onnxruntime-web. The task registry is not in the page (it reads dataset files), so the model
 * and its seeded initialisation are built here from the same parts; the join's initial hash
 * proves them the same.
 */

const EVAL_BATCH = 500;

export interface PageTaskOptions {
  readonly model: { readonly hidden: number; readonly depth: number };
  readonly seed: number;
  readonly batch: number;
  /** The page's training rows, normalised as the run's dataset is. */
  readonly rows: Dataset;
  /** Held-out rows scored at evaluations (default: the training rows). */
  readonly evalRows?: Dataset;
  /** Which share of the run the rows are, for the batch draw's seed (default: none, as the whole data). */
  readonly shard?: number;
  readonly executor: engine.TensorExecutor;
}

export class PageTask implements GradientSource {
  private readonly batches: Iterator<engine.FeedBatch>;
  private readonly evalShare: DataShare;

  private constructor(
    readonly initial: ParamSet,
    private readonly trainer: engine.Trainer,
    share: DataShare,
    o: PageTaskOptions,
  ) {
    this.batches = share.draw(o.batch, peerBatchSeed(o.seed, o.shard ?? null), Number.MAX_SAFE_INTEGER)[Symbol.iterator]();
    const ev = o.evalRows ?? o.rows;
    this.evalShare = datasetShare(() => ev, ev.count, `${ev.count} held-out rows`);
  }

  static async create(o: PageTaskOptions): Promise<PageTask> {
    const net = mlpSubnetwork({ ...MNIST_MLP_SUPERNET, hidden: o.model.hidden, depth: o.model.depth }, { width: 1 });
    // The image tasks' initialisation: new Rng(seed) over the whole model's parameters in order.
    const graph = net.build().graph;
    const rng = new Rng(o.seed);
    const init = engine.initParams(graph, () => rng.uniform());
    const initial = ParamSet.fromTensors(graph.params.map((p) => ({ name: p.name, shape: p.shape as number[], data: init.get(p.name) as Float32Array })));
    // As PeerTask's gradient learner: plain SGD whose step is never used, only its raw gradients.
    const trainer = await engine.Trainer.create({ model: () => net.build(), optimizer: { kind: 'sgd', momentum: 0 }, lr: 1, seed: o.seed, executor: o.executor, returnGradients: true });
    return new PageTask(initial, trainer, datasetShare(() => o.rows, o.rows.count, `${o.rows.count} rows in the page`), o);
  }

  async gradients(params: ParamSet): Promise<{ loss: number; grads: ParamSet }> {
    await this.trainer.setParams(params);
    return this.trainer.gradients(this.batches.next().value as engine.FeedBatch);
  }

  async evaluate(params: ParamSet): Promise<{ loss: number; accuracy: number }> {
    await this.trainer.setParams(params);
    const e = await this.trainer.evaluateBatches(this.evalShare.epoch(EVAL_BATCH, 0, 0));
    return { loss: e.loss, accuracy: e.accuracy };
  }

  close(): Promise<void> {
    return this.trainer.close();
  }
}
