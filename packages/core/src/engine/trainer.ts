import { Rng } from '@fednode/kernels';
import type { Batch } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import { ParamSet, type TensorSpec } from '../tensor/paramset.js';
import { EngineError } from './errors.js';
import { classifierEvaluation, exportInferenceModel, type ExportOptions } from './evaluation.js';
import type { SessionHandle, TensorExecutor } from './executor-api.js';
import { Executor } from './executor.js';
import type { WireTensor } from './executor-protocol.js';
import type { FloatArray, Graph, Value } from './graph.js';
import { cnn, initParams, mlp, type ModelGraph } from './models.js';
import type { OptimizerSpec } from './optimizer.js';
import { withProximalTerm } from './proximal.js';
import type { ExecutionProvider } from './session.js';
import { buildTrainingGraph, type TrainingGraph } from './training-graph.js';

/**
 * A model in training: its parameters and optimiser state live in the executor's worker, a
 * step sends one batch and gets the loss back, and evaluation runs a forward-only model over
 * the same resident parameters. Federated trainers call setParams with the global model at the
 * start of each round and params() at the end.
 */

export type ModelName = 'mlp' | 'cnn';
export const MODEL_NAMES: readonly ModelName[] = ['mlp', 'cnn'];

export function modelByName(name: ModelName): ModelGraph {
  switch (name) {
    case 'mlp':
      return mlp();
    case 'cnn':
      return cnn();
    default:
      throw new EngineError('ENGINE_OP', `unknown model ${JSON.stringify(name)}; known: ${MODEL_NAMES.join(', ')}`);
  }
}

/**
 * Any model the trainer can train: a float32 graph with a scalar training loss and, for
 * evaluation, a scalar mean loss and a count of correct predictions. Its other inputs (data,
 * labels) are the batch the caller feeds.
 */
export interface TrainableModel {
  readonly graph: Graph;
  readonly loss: Value;
  readonly evaluation: { readonly loss: Value; readonly correct: Value };
}

/** One batch as named feeds (any model's inputs), and how many examples it holds. */
export interface FeedBatch {
  readonly size: number;
  readonly feeds: Readonly<Record<string, WireTensor>>;
}

function isFeedBatch(b: Batch | FeedBatch): b is FeedBatch {
  return (b as FeedBatch).feeds !== undefined;
}

function trainable(m: ModelGraph | TrainableModel): TrainableModel & { readonly image: ModelGraph | null } {
  if ('evaluation' in m) return { ...m, image: null };
  return { graph: m.graph, loss: m.loss, evaluation: classifierEvaluation(m), image: m };
}

export interface TrainerOptions {
  /** A model name, or a builder returning a fresh float32 graph (an image classifier with x [N, F] and y [N], or any trainable model). */
  model: ModelName | (() => ModelGraph | TrainableModel);
  optimizer: OptimizerSpec;
  /** Seeds the parameters' initial values. */
  seed: number;
  /** The learning rate a step uses unless it is given one. */
  lr: number;
  clipGradNorm?: number;
  /** A shared executor (many trainers, one worker and one session per architecture); default: a new one. */
  executor?: TensorExecutor;
  provider?: ExecutionProvider;
  intraOpThreads?: number;
  /**
   * Build the training graph with FedProx's proximal term mu/2·||w − w_anchor||²: the anchor
   * is whatever setParams last installed (the round's global model). mu is `proximalMu`.
   */
  proximal?: boolean;
  proximalMu?: number;
  /** Also build the raw gradients into the step (for `gradients`: DeMo's peers send gradients, not steps). */
  returnGradients?: boolean;
}

export interface Evaluation {
  readonly accuracy: number;
  /** Mean cross-entropy over the rows. */
  readonly loss: number;
  readonly count: number;
}

let trainerCount = 0;

export class Trainer {
  readonly specs: readonly TensorSpec[];
  /** Features per row of an image classifier's x; 0 for other models (fed by name). */
  readonly features: number;
  lr: number;
  /** FedProx's mu, fed at every step when the trainer was built with `proximal`. */
  proximalMu: number;
  private readonly model: TrainableModel & { readonly image: ModelGraph | null };
  private readonly tg: TrainingGraph;
  private readonly proximal: { readonly mu: string; readonly anchors: ReadonlyMap<string, string> } | null;
  private readonly prefix: string;
  private readonly ownsExecutor: boolean;
  private steps = 0;
  private closed = false;

  private constructor(
    readonly executor: TensorExecutor,
    model: TrainableModel & { readonly image: ModelGraph | null },
    tg: TrainingGraph,
    proximal: { readonly mu: string; readonly anchors: ReadonlyMap<string, string> } | null,
    private readonly trainSession: SessionHandle,
    private readonly evalSession: SessionHandle,
    opts: TrainerOptions,
  ) {
    this.model = model;
    this.tg = tg;
    this.proximal = proximal;
    this.lr = opts.lr;
    this.proximalMu = opts.proximalMu ?? 0;
    this.ownsExecutor = opts.executor === undefined;
    this.prefix = `trainer${++trainerCount}/`;
    this.specs = model.graph.params.map((p) => ({ name: p.name, shape: p.shape as number[] }));
    this.features = model.image === null ? 0 : (model.image.x.shape[1] as number);
  }

  static async create(opts: TrainerOptions): Promise<Trainer> {
    const model = trainable(typeof opts.model === 'string' ? modelByName(opts.model) : opts.model());
    if (model.graph.dtype !== 'float32') throw new EngineError('ENGINE_GRAPH', 'trainer: the model graph must be float32 (parameters travel as a ParamSet)');
    const x = model.image?.x;
    if (x !== undefined && (x.rank !== 2 || typeof x.shape[1] !== 'number')) throw new EngineError('ENGINE_GRAPH', 'trainer: the model input x must be [N, features]');
    if (!(opts.lr > 0)) throw new EngineError('ENGINE_OP', `trainer: learning rate ${opts.lr} must be > 0`);
    if (opts.proximalMu !== undefined && !(opts.proximalMu >= 0)) throw new EngineError('ENGINE_OP', `trainer: proximal mu ${opts.proximalMu} must be >= 0`);
    // The evaluation model is cut before the proximal term joins the graph: it scores the model, not the local objective.
    const evalOutputs: [string, Value][] = [['loss', model.evaluation.loss], ['correct', model.evaluation.correct]];
    if (model.image !== null) evalOutputs.push(['logits', model.image.logits]);
    const evalModel = model.graph.toModel({ outputs: evalOutputs, metadata: { 'fednode.kind': 'evaluation' } });
    const prox = opts.proximal === true ? withProximalTerm(model.loss, model.graph.params) : null;
    const tg = buildTrainingGraph({ loss: prox?.loss ?? model.loss, optimizer: opts.optimizer, clipGradNorm: opts.clipGradNorm, returnGradients: opts.returnGradients });
    if (model.image !== null) {
      const image = model.image;
      const fed = new Set([image.x.name, image.y.name, ...(prox === null ? [] : [prox.mu, ...prox.anchors.values()])]);
      const extra = tg.inputs.batch.map((t) => t.name).filter((n) => !fed.has(n));
      if (extra.length > 0) throw new EngineError('ENGINE_GRAPH', `trainer: the model needs inputs the trainer cannot feed: ${extra.join(', ')}`);
    }
    // In a browser bundle Executor is executor.browser.ts, whose create() says to pass createWebExecutor's.
    const executor = opts.executor ?? Executor.create({ provider: opts.provider, intraOpThreads: opts.intraOpThreads });
    try {
      const [trainSession, evalSession] = await Promise.all([executor.load(tg.bytes), executor.load(evalModel.bytes)]);
      const trainer = new Trainer(executor, model, tg, prox === null ? null : { mu: prox.mu, anchors: prox.anchors }, trainSession, evalSession, opts);
      const rng = new Rng(opts.seed);
      const init = initParams(model.graph, () => rng.uniform());
      await trainer.setParams(ParamSet.fromTensors(trainer.specs.map((s) => ({ ...s, data: init.get(s.name) as FloatArray }))));
      return trainer;
    } catch (err) {
      if (opts.executor === undefined) await executor.close();
      throw err;
    }
  }

  /** Steps taken since creation or the last optimiser reset. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * One optimiser step on a batch; resolves to the batch's mean loss. Steps may be issued
   * without awaiting the previous one: the worker runs them in order.
   */
  step(batch: Batch | FeedBatch, lr = this.lr): Promise<number> {
    this.check();
    let feeds: Record<string, WireTensor>;
    try {
      feeds = { ...this.batchFeeds(batch), [this.tg.inputs.lr]: { dtype: 'float32', dims: [], data: Float32Array.of(lr) } };
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.proximal !== null) feeds[this.proximal.mu] = { dtype: 'float32', dims: [], data: Float32Array.of(this.proximalMu) };
    this.steps++;
    if (this.tg.inputs.step !== null) feeds[this.tg.inputs.step] = { dtype: 'float32', dims: [], data: Float32Array.of(this.steps) };
    const bind: Record<string, string> = {};
    const keep: Record<string, string> = {};
    this.tg.inputs.params.forEach((name, i) => {
      bind[name] = this.prefix + name;
      keep[this.tg.outputs.params[i]] = this.prefix + name;
    });
    this.tg.inputs.state.forEach((s, i) => {
      bind[s.name] = this.prefix + s.name;
      keep[this.tg.outputs.state[i]] = this.prefix + s.name;
    });
    for (const a of this.proximal?.anchors.values() ?? []) bind[a] = this.prefix + a;
    return this.executor.run(this.trainSession, { feeds, bind, keep, fetch: [this.tg.outputs.loss] }).then((r) => {
      const loss = (r.outputs[this.tg.outputs.loss].data as Float32Array)[0];
      if (!Number.isFinite(loss)) throw new EngineError('ENGINE_RUN', `training diverged: the loss is ${loss} at step ${this.steps} (lower the learning rate)`);
      return loss;
    });
  }

  /**
   * The mean loss and raw gradients (before clipping) of a batch at the current parameters,
   * which stay as they are: the step's updated parameters and state are not kept.
   */
  async gradients(batch: Batch | FeedBatch): Promise<{ loss: number; grads: ParamSet }> {
    this.check();
    const names = this.tg.outputs.gradients;
    if (names === null) throw new EngineError('ENGINE_STATE', 'gradients: the trainer was built without returnGradients');
    const feeds: Record<string, WireTensor> = { ...this.batchFeeds(batch), [this.tg.inputs.lr]: { dtype: 'float32', dims: [], data: Float32Array.of(0) } };
    if (this.proximal !== null) feeds[this.proximal.mu] = { dtype: 'float32', dims: [], data: Float32Array.of(this.proximalMu) };
    if (this.tg.inputs.step !== null) feeds[this.tg.inputs.step] = { dtype: 'float32', dims: [], data: Float32Array.of(Math.max(1, this.steps)) };
    const bind: Record<string, string> = {};
    this.tg.inputs.params.forEach((name) => (bind[name] = this.prefix + name));
    this.tg.inputs.state.forEach((s) => (bind[s.name] = this.prefix + s.name));
    for (const a of this.proximal?.anchors.values() ?? []) bind[a] = this.prefix + a;
    const r = await this.executor.run(this.trainSession, { feeds, bind, fetch: [this.tg.outputs.loss, ...names] });
    const grads = ParamSet.zeros(this.specs);
    names.forEach((n, i) => grads.tensor(this.tg.inputs.params[i]).set(r.outputs[n].data as Float32Array));
    return { loss: (r.outputs[this.tg.outputs.loss].data as Float32Array)[0], grads };
  }

  /** The named feeds of a batch: an image batch's x and y, or a feed batch as it is. */
  private batchFeeds(batch: Batch | FeedBatch): Record<string, WireTensor> {
    if (isFeedBatch(batch)) {
      if (!(batch.size >= 1)) throw new EngineError('ENGINE_SHAPE', `a batch of ${batch.size} examples`);
      return { ...batch.feeds };
    }
    const image = this.model.image;
    if (image === null) throw new EngineError('ENGINE_SHAPE', 'this model is fed by name: pass { size, feeds }');
    if (batch.x.length !== batch.size * this.features || batch.y.length !== batch.size || batch.size < 1) {
      throw new EngineError('ENGINE_SHAPE', `batch of ${batch.size}: x has ${batch.x.length} values and y ${batch.y.length} (want ${this.features} features a row)`);
    }
    return {
      [image.x.name]: { dtype: 'float32', dims: [batch.size, this.features], data: batch.x },
      [image.y.name]: { dtype: 'int64', dims: [batch.size], data: batch.y },
    };
  }

  /**
   * Accuracy and mean loss over feed batches (each batch's `loss` output is its mean, `correct`
   * its count of hits), with the forward-only model.
   */
  async evaluateBatches(batches: Iterable<FeedBatch>): Promise<Evaluation> {
    this.check();
    let correct = 0;
    let lossSum = 0;
    let count = 0;
    const bind: Record<string, string> = {};
    for (const s of this.specs) bind[s.name] = this.prefix + s.name;
    const runs: Promise<void>[] = [];
    for (const b of batches) {
      count += b.size;
      runs.push(
        this.executor.run(this.evalSession, { feeds: { ...b.feeds }, bind, fetch: ['loss', 'correct'] }).then((r) => {
          lossSum += (r.outputs.loss.data as Float32Array)[0] * b.size;
          correct += (r.outputs.correct.data as Float32Array)[0];
        }),
      );
    }
    await Promise.all(runs);
    return { accuracy: count === 0 ? 0 : correct / count, loss: count === 0 ? 0 : lossSum / count, count };
  }

  /** Accuracy and mean loss over a dataset, in batches, with the forward-only model. */
  async evaluate(ds: Dataset, opts: { batchSize?: number } = {}): Promise<Evaluation> {
    this.check();
    const bs = opts.batchSize ?? 500;
    if (ds.features !== this.features) throw new EngineError('ENGINE_SHAPE', `evaluate: the dataset has ${ds.features} features, the model ${this.features}`);
    let correct = 0;
    let lossSum = 0;
    const runs: Promise<void>[] = [];
    for (let start = 0; start < ds.count; start += bs) {
      const size = Math.min(bs, ds.count - start);
      const y = BigInt64Array.from(ds.y.subarray(start, start + size), (v) => BigInt(v));
      const x = ds.x.subarray(start * ds.features, (start + size) * ds.features);
      runs.push(
        this.forward(x, y, size, ['loss', 'correct']).then((out) => {
          lossSum += (out.loss.data as Float32Array)[0] * size;
          correct += (out.correct.data as Float32Array)[0];
        }),
      );
    }
    await Promise.all(runs);
    return { accuracy: ds.count === 0 ? 0 : correct / ds.count, loss: ds.count === 0 ? 0 : lossSum / ds.count, count: ds.count };
  }

  /** The model's logits for `count` rows of x, [count, classes] row-major (image classifiers). */
  async logits(x: Float32Array, count: number): Promise<Float32Array> {
    this.check();
    const out = await this.forward(x, new BigInt64Array(count), count, ['logits']);
    return out.logits.data as Float32Array;
  }

  /** A copy of the current parameters. */
  async params(): Promise<ParamSet> {
    this.check();
    const got = await this.executor.get(this.specs.map((s) => this.prefix + s.name));
    return ParamSet.fromTensors(this.specs.map((s) => ({ ...s, data: got[this.prefix + s.name].data as Float32Array })));
  }

  /**
   * Replaces the parameters (a federated round's global model). The optimiser state is reset
   * too unless `keepOptimizerState`: local training starts each round afresh.
   */
  async setParams(p: ParamSet, opts: { keepOptimizerState?: boolean } = {}): Promise<void> {
    this.check();
    const specs = this.specs;
    const ok = p.specs.length === specs.length && p.specs.every((s, i) => s.name === specs[i].name && s.shape.join() === specs[i].shape.join());
    if (!ok) throw new EngineError('ENGINE_SHAPE', "setParams: the parameter set's names and shapes do not match the model");
    const tensors: Record<string, WireTensor> = {};
    for (const s of specs) tensors[this.prefix + s.name] = { dtype: 'float32', dims: s.shape, data: p.tensor(s.name) };
    // The proximal anchor is the model a round starts from: the parameters installed here.
    for (const s of specs) {
      const a = this.proximal?.anchors.get(s.name);
      if (a !== undefined) tensors[this.prefix + a] = { dtype: 'float32', dims: s.shape, data: p.tensor(s.name) };
    }
    if (opts.keepOptimizerState !== true) Object.assign(tensors, this.zeroState());
    await this.executor.put(tensors);
    if (opts.keepOptimizerState !== true) this.steps = 0;
  }

  /** Zeroes the optimiser state (momentum, Adam moments) and the step count. */
  async resetOptimizer(): Promise<void> {
    this.check();
    await this.executor.put(this.zeroState());
    this.steps = 0;
  }

  /** The current model as a standalone ONNX inference file (opset 17). */
  async exportOnnx(opts: ExportOptions = {}): Promise<Uint8Array> {
    const image = this.model.image;
    if (image === null) throw new EngineError('ENGINE_STATE', 'exportOnnx exports image classifiers; export other models through their task');
    const p = await this.params();
    return exportInferenceModel(image, new Map(this.specs.map((s) => [s.name, p.tensor(s.name)])), opts);
  }

  /** Frees this trainer's tensors in the worker, and the worker itself when the trainer made it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsExecutor) await this.executor.close();
    else if (!this.executor.closed) await this.executor.drop([`${this.prefix}*`]);
  }

  private forward(x: Float32Array, y: BigInt64Array, size: number, fetch: string[]): Promise<Record<string, WireTensor>> {
    const image = this.model.image;
    if (image === null) return Promise.reject(new EngineError('ENGINE_STATE', 'this model is fed by name: use evaluateBatches'));
    const bind: Record<string, string> = {};
    for (const s of this.specs) bind[s.name] = this.prefix + s.name;
    const feeds: Record<string, WireTensor> = {
      [image.x.name]: { dtype: 'float32', dims: [size, this.features], data: x },
      [image.y.name]: { dtype: 'int64', dims: [size], data: y },
    };
    return this.executor.run(this.evalSession, { feeds, bind, fetch }).then((r) => r.outputs);
  }

  private zeroState(): Record<string, WireTensor> {
    const out: Record<string, WireTensor> = {};
    for (const s of this.tg.inputs.state) {
      const dims = s.shape as number[];
      out[this.prefix + s.name] = { dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) };
    }
    return out;
  }

  private check(): void {
    if (this.closed) throw new EngineError('ENGINE_STATE', 'the trainer is closed');
  }
}
