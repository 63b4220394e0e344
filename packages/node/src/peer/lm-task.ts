/**
 * The decentralised peers' training task: the character transformer on SOTU, the speakers
 * cut into disjoint shares (speaker i goes to share i mod shares), one shared vocabulary
 * (from every speaker's training text, so every peer derives the same one), and held-out
 * windows from the last 10% of every speaker. Gives a peer what DeMo needs (gradients of a
 * batch at given parameters) and what DiLoCo needs (inner AdamW steps), plus evaluation.
 */
import type * as ort from 'onnxruntime-node';
import { Rng } from '@fednode/kernels';
import { ParamSet, engine, models, text, type TensorSpec } from '@fednode/core';

export interface LmTaskConfig {
  readonly seqLen: number;
  readonly dModel: number;
  readonly heads: number;
  readonly headDim: number;
  readonly ffDim: number;
  readonly layers: number;
}

export interface LmTaskOptions {
  readonly model: LmTaskConfig;
  /** How many disjoint shares the speakers are cut into, and which one this process trains on (null: all, the baseline). */
  readonly shares: number;
  readonly share: number | null;
  readonly batch: number;
  readonly seed: number;
  /** Held-out LEAF samples scored per evaluation (evenly spaced over the speakers). */
  readonly evalSamples: number;
  readonly threads?: number;
}

const TRAIN_FRACTION = 0.9;

export interface LmData {
  readonly vocab: text.CharVocab;
  readonly train: text.EncodedCorpus;
  readonly heldOut: text.EncodedCorpus;
  readonly speakers: readonly string[];
}

/** The corpus of one share (or all speakers when `share` is null), the held-out set and the vocabulary. */
export function lmData(shares: number, share: number | null): LmData {
  const all = text.loadSotu();
  const split = text.splitSpeakers(all, TRAIN_FRACTION);
  const vocab = text.CharVocab.fromTexts(split.train.map((s) => s.text));
  const mine = split.train.filter((_, i) => share === null || i % shares === share);
  return {
    vocab,
    train: text.encodeCorpus(mine, vocab),
    heldOut: text.encodeCorpus(split.heldOut, vocab),
    speakers: mine.map((s) => s.name),
  };
}

export function transformerConfig(m: LmTaskConfig, vocab: number): models.TransformerConfig {
  return { vocab, seqLen: m.seqLen, dModel: m.dModel, heads: m.heads, headDim: m.headDim, ffDim: m.ffDim, layers: m.layers };
}

/** The seeded initial parameters every peer of a run starts from. */
export function initialParams(config: models.TransformerConfig, seed: number): ParamSet {
  const model = models.transformerLM(config);
  const init = engine.initParams(model.graph, ((r) => () => r.uniform())(Rng.derive(seed, 0)));
  return ParamSet.fromTensors(model.graph.params.map((p) => ({ name: p.name, shape: p.shape as number[], data: init.get(p.name)! })));
}


/** One peer's model sessions and batches. */
export class LmTask {
  readonly specs: readonly TensorSpec[];
  private readonly x: BigInt64Array;
  private readonly y: BigInt64Array;
  private readonly rng: Rng;
  private readonly evalStarts: Uint32Array;

  private constructor(
    readonly options: LmTaskOptions,
    readonly data: LmData,
    readonly config: models.TransformerConfig,
    private readonly gradGraph: engine.TrainingGraph,
    private readonly gradSession: ort.InferenceSession,
    private readonly evalSession: ort.InferenceSession,
    private readonly adamGraph: engine.TrainingGraph | null,
    private readonly adamSession: ort.InferenceSession | null,
  ) {
    this.specs = gradGraph.inputs.params.map((name) => {
      const t = gradGraph.model.inputs.find((i) => i.name === name)!;
      return { name, shape: t.shape as number[] };
    });
    this.x = new BigInt64Array(options.batch * config.seqLen);
    this.y = new BigInt64Array(options.batch * config.seqLen);
    this.rng = Rng.derive(options.seed, 1, options.share ?? 0xffff);
    this.evalStarts = text.samplePositions(data.heldOut, config.seqLen, options.evalSamples);
  }

  /** Builds the sessions; `inner` adds an AdamW step session (DiLoCo's inner optimiser). */
  static async create(options: LmTaskOptions, inner: { weightDecay: number; clipGradNorm?: number } | null): Promise<LmTask> {
    const data = lmData(options.shares, options.share);
    const config = transformerConfig(options.model, data.vocab.size);
    const threads = options.threads ?? 1;
    const fwd = models.transformerLM(config);
    // lr is fed as 0: the step's parameter outputs are unused, only the raw gradients matter.
    const gradGraph = engine.buildTrainingGraph({ loss: fwd.loss, optimizer: { kind: 'sgd', momentum: 0 }, returnGradients: true });
    const ev = models.lmEvalOutputs(fwd);
    const evalBytes = fwd.graph.toModel({ outputs: [['loss', ev.loss], ['correct', ev.correct]] }).bytes;
    const gradSession = await engine.createSession(gradGraph.bytes, { intraOpThreads: threads });
    const evalSession = await engine.createSession(evalBytes, { intraOpThreads: threads });
    let adamGraph: engine.TrainingGraph | null = null;
    let adamSession: ort.InferenceSession | null = null;
    if (inner !== null) {
      const m = models.transformerLM(config);
      adamGraph = engine.buildTrainingGraph({ loss: m.loss, optimizer: { kind: 'adamw', weightDecay: inner.weightDecay }, clipGradNorm: inner.clipGradNorm ?? 1 });
      adamSession = await engine.createSession(adamGraph.bytes, { intraOpThreads: threads });
    }
    return new LmTask(options, data, config, gradGraph, gradSession, evalSession, adamGraph, adamSession);
  }

  private nextBatch(): Record<string, ort.Tensor> {
    text.fillLmBatch(this.data.train, this.config.seqLen, this.rng, this.x, this.y);
    const dims = [this.options.batch, this.config.seqLen];
    return { x: engine.toTensor('int64', this.x, dims), y: engine.toTensor('int64', this.y, dims) };
  }

  /** The mean loss and gradients of the next batch at `params`. */
  async gradients(params: ParamSet): Promise<{ loss: number; grads: ParamSet }> {
    const tg = this.gradGraph;
    const out = await engine.runSession(this.gradSession, { ...models.paramFeeds(params), ...this.nextBatch(), [tg.inputs.lr]: engine.toTensor('float32', Float32Array.of(0), []) });
    const grads = ParamSet.zeros(this.specs);
    tg.outputs.gradients!.forEach((name, i) => grads.tensor(tg.inputs.params[i]).set(out[name].data as Float32Array));
    return { loss: (out[tg.outputs.loss].data as Float32Array)[0], grads };
  }

  /** An inner AdamW state starting from `params` (fresh moments). */
  innerState(params: ParamSet): models.TrainState {
    if (this.adamGraph === null) throw new Error('this task was built without an inner optimiser');
    return new models.TrainState(this.adamGraph, new Map(params.names().map((n) => [n, params.tensor(n)])));
  }

  /** One inner AdamW step on the next batch; returns the loss. */
  innerStep(state: models.TrainState, lr: number): Promise<number> {
    return state.step(this.adamSession!, this.nextBatch(), lr);
  }

  /** The parameters an inner state holds now (a copy). */
  innerParams(state: models.TrainState): ParamSet {
    const p = ParamSet.zeros(this.specs);
    const t = state.params();
    for (const s of this.specs) p.tensor(s.name).set(t[s.name].data as Float32Array);
    return p;
  }

  /** Held-out loss and next-character accuracy of `params`. */
  evaluate(params: ParamSet): Promise<models.LmEvaluation> {
    return models.evaluateLm(this.evalSession, models.paramFeeds(params), this.data.heldOut, this.evalStarts, this.config.seqLen, 256);
  }

  async close(): Promise<void> {
    await this.gradSession.release();
    await this.evalSession.release();
    await this.adamSession?.release();
  }
}
