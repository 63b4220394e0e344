import { Rng } from '@fednode/kernels';
import type { Batch } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import { ParamSet, type TensorSpec } from '../tensor/paramset.js';
import { EngineError } from './errors.js';
import { buildEvalModel, exportInferenceModel, type ExportOptions } from './evaluation.js';
import { Executor, type SessionHandle, type WireTensor } from './executor.js';
import type { FloatArray } from './graph.js';
import { cnn, initParams, mlp, type ModelGraph } from './models.js';
import type { OptimizerSpec } from './optimizer.js';
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

export interface TrainerOptions {
  /** A model name, or a builder returning a fresh float32 graph with inputs x [N, F] and y [N]. */
  model: ModelName | (() => ModelGraph);
  optimizer: OptimizerSpec;
  /** Seeds the parameters' initial values. */
  seed: number;
  /** The learning rate a step uses unless it is given one. */
  lr: number;
  clipGradNorm?: number;
  /** A shared executor (many trainers, one worker and one session per architecture); default: a new one. */
  executor?: Executor;
  provider?: ExecutionProvider;
  intraOpThreads?: number;
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
  readonly features: number;
  lr: number;
  private readonly model: ModelGraph;
  private readonly tg: TrainingGraph;
  private readonly prefix: string;
  private readonly ownsExecutor: boolean;
  private steps = 0;
  private closed = false;

  private constructor(
    readonly executor: Executor,
    model: ModelGraph,
    tg: TrainingGraph,
    private readonly trainSession: SessionHandle,
    private readonly evalSession: SessionHandle,
    opts: TrainerOptions,
  ) {
    this.model = model;
    this.tg = tg;
    this.lr = opts.lr;
    this.ownsExecutor = opts.executor === undefined;
    this.prefix = `trainer${++trainerCount}/`;
    this.specs = model.graph.params.map((p) => ({ name: p.name, shape: p.shape as number[] }));
    this.features = model.x.shape[1] as number;
  }

  static async create(opts: TrainerOptions): Promise<Trainer> {
    const model = typeof opts.model === 'string' ? modelByName(opts.model) : opts.model();
    if (model.graph.dtype !== 'float32') throw new EngineError('ENGINE_GRAPH', 'trainer: the model graph must be float32 (parameters travel as a ParamSet)');
    if (model.x.rank !== 2 || typeof model.x.shape[1] !== 'number') throw new EngineError('ENGINE_GRAPH', 'trainer: the model input x must be [N, features]');
    if (!(opts.lr > 0)) throw new EngineError('ENGINE_OP', `trainer: learning rate ${opts.lr} must be > 0`);
    const tg = buildTrainingGraph({ loss: model.loss, optimizer: opts.optimizer, clipGradNorm: opts.clipGradNorm });
    const extra = tg.inputs.batch.map((t) => t.name).filter((n) => n !== model.x.name && n !== model.y.name);
    if (extra.length > 0) throw new EngineError('ENGINE_GRAPH', `trainer: the model needs inputs the trainer cannot feed: ${extra.join(', ')}`);
    const evalModel = buildEvalModel(model);
    const executor = opts.executor ?? Executor.create({ provider: opts.provider, intraOpThreads: opts.intraOpThreads });
    try {
      const [trainSession, evalSession] = await Promise.all([executor.load(tg.bytes), executor.load(evalModel.bytes)]);
      const trainer = new Trainer(executor, model, tg, trainSession, evalSession, opts);
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
  step(batch: Batch, lr = this.lr): Promise<number> {
    this.check();
    if (batch.x.length !== batch.size * this.features || batch.y.length !== batch.size || batch.size < 1) {
      return Promise.reject(new EngineError('ENGINE_SHAPE', `batch of ${batch.size}: x has ${batch.x.length} values and y ${batch.y.length} (want ${this.features} features a row)`));
    }
    const feeds: Record<string, WireTensor> = {
      [this.model.x.name]: { dtype: 'float32', dims: [batch.size, this.features], data: batch.x },
      [this.model.y.name]: { dtype: 'int64', dims: [batch.size], data: batch.y },
      [this.tg.inputs.lr]: { dtype: 'float32', dims: [], data: Float32Array.of(lr) },
    };
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
    return this.executor.run(this.trainSession, { feeds, bind, keep, fetch: [this.tg.outputs.loss] }).then((r) => {
      const loss = (r.outputs[this.tg.outputs.loss].data as Float32Array)[0];
      if (!Number.isFinite(loss)) throw new EngineError('ENGINE_RUN', `training diverged: the loss is ${loss} at step ${this.steps} (lower the learning rate)`);
      return loss;
    });
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

  /** The model's logits for `count` rows of x, [count, classes] row-major. */
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
    const p = await this.params();
    return exportInferenceModel(this.model, new Map(this.specs.map((s) => [s.name, p.tensor(s.name)])), opts);
  }

  /** Frees this trainer's tensors in the worker, and the worker itself when the trainer made it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsExecutor) await this.executor.close();
    else if (!this.executor.closed) await this.executor.drop([`${this.prefix}*`]);
  }

  private forward(x: Float32Array, y: BigInt64Array, size: number, fetch: string[]): Promise<Record<string, WireTensor>> {
    const bind: Record<string, string> = {};
    for (const s of this.specs) bind[s.name] = this.prefix + s.name;
    const feeds: Record<string, WireTensor> = {
      [this.model.x.name]: { dtype: 'float32', dims: [size, this.features], data: x },
      [this.model.y.name]: { dtype: 'int64', dims: [size], data: y },
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
