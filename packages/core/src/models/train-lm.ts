import type * as ort from 'onnxruntime-node';
import { Rng } from '@fednode/kernels';
import type { ParamSet } from '../tensor/paramset.js';
import { learningRate } from '../engine/schedule.js';
import { buildTrainingGraph, createSession, initParams, reshape, runSession, slice, softmaxCrossEntropy, toTensor, type TrainingGraph, type Value } from '../engine/index.js';
import { fillLmBatch, fillLmWindows, samplePositions, type EncodedCorpus } from '../text/windows.js';
import { ModelError } from './errors.js';
import { correctCount } from './nodes.js';
import { transformerLM, type TransformerConfig, type TransformerModel } from './transformer.js';

/**
 * The local training loop of the character transformer (dense or MoE): AdamW with linear
 * warm-up and cosine decay, global-norm clipping, one onnxruntime run per step (forward,
 * backward and update in one graph), and held-out evaluation on LEAF samples (the last
 * position of each 80-character window).
 */

export interface LmTrainOptions {
  config: TransformerConfig;
  train: EncodedCorpus;
  heldOut: EncodedCorpus;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps?: number;
  /** The cosine ends at lr · minLrFraction (default 0.1). */
  minLrFraction?: number;
  weightDecay?: number;
  clipGradNorm?: number;
  seed: number;
  /** onnxruntime intra-op threads (default 2). */
  threads?: number;
  /** Held-out samples scored at each evaluation (evenly spaced over the speakers; default 4096). */
  evalSamples?: number;
  /** Evaluate every this many steps (default: only at the end). */
  evalEvery?: number;
  /**
   * Stop (and evaluate) once training has taken this long. The cosine then follows whichever
   * budget runs out first: max(step / steps, trainSeconds / timeLimitSec).
   */
  timeLimitSec?: number;
  onLog?: (line: string) => void;
}

export interface LmEvaluation {
  /** Mean cross-entropy of the LEAF label (the last position), in nats. */
  readonly loss: number;
  readonly accuracy: number;
  readonly samples: number;
}

export interface LmTrainReport {
  readonly steps: number;
  readonly trainSeconds: number;
  /** Training tokens (predictions) per second: batch · seqLen · steps / trainSeconds. */
  readonly tokensPerSecond: number;
  readonly finalTrainLoss: number;
  readonly heldOut: LmEvaluation;
  readonly curve: readonly { step: number; seconds: number; trainLoss: number; heldOut?: LmEvaluation }[];
  /** The trained parameters, by name. */
  readonly params: Map<string, Float32Array>;
}

/**
 * The learning rate at `step`: linear warm-up, then a cosine from lr down to lr · minLrFraction.
 * `progress` (in [0, 1]) overrides the step-based position after warm-up, so a run bounded by
 * wall time can decay over its time budget instead of a step count it may not reach.
 */
export function lrAt(step: number, o: Pick<LmTrainOptions, 'lr' | 'steps' | 'warmupSteps' | 'minLrFraction'>, progress?: number): number {
  return learningRate({ kind: 'cosine', warmupSteps: o.warmupSteps ?? 0, minLrFraction: o.minLrFraction ?? 0.1 }, o.lr, step, o.steps, progress ?? (step - (o.warmupSteps ?? 0)) / Math.max(1, o.steps - (o.warmupSteps ?? 0)));
}

/** Adds the evaluation outputs (last-position loss and hit count) to a model's graph. */
export function lmEvalOutputs(m: TransformerModel): { loss: Value; correct: Value } {
  const t = m.config.seqLen;
  const yLast = reshape(slice(m.y, [t - 1], [t], [1]), [-1]);
  return { loss: softmaxCrossEntropy(m.lastLogits, yLast), correct: correctCount(m.lastLogits, yLast) };
}

export async function trainLanguageModel(o: LmTrainOptions): Promise<LmTrainReport> {
  if (!Number.isInteger(o.steps) || o.steps < 1 || !Number.isInteger(o.batchSize) || o.batchSize < 1) {
    throw new ModelError('MODEL_TRAIN', `steps ${o.steps} and batchSize ${o.batchSize} must be positive integers`);
  }
  const log = o.onLog ?? (() => {});
  const t = o.config.seqLen;
  const model = transformerLM(o.config);
  const tg = buildTrainingGraph({
    loss: model.loss,
    optimizer: { kind: 'adamw', weightDecay: o.weightDecay ?? 0.01 },
    clipGradNorm: o.clipGradNorm ?? 1,
  });
  const evalOut = lmEvalOutputs(model);
  const evalBytes = model.graph.toModel({ outputs: [['loss', evalOut.loss], ['correct', evalOut.correct]] }).bytes;
  const threads = o.threads ?? 2;
  const session = await createSession(tg.bytes, { intraOpThreads: threads });
  const evalSession = await createSession(evalBytes, { intraOpThreads: threads });

  const init = initParams(model.graph, ((r) => () => r.uniform())(Rng.derive(o.seed, 0)));
  const state = new TrainState(tg, init);
  const rng = Rng.derive(o.seed, 1);
  const x = new BigInt64Array(o.batchSize * t);
  const y = new BigInt64Array(o.batchSize * t);
  const evalStarts = samplePositions(o.heldOut, t, o.evalSamples ?? 4096);
  const curve: { step: number; seconds: number; trainLoss: number; heldOut?: LmEvaluation }[] = [];

  const warm = o.warmupSteps ?? 0;
  const progressOf = (step: number, ms: number): number => {
    const byStep = (step - warm) / Math.max(1, o.steps - warm);
    return o.timeLimitSec === undefined ? byStep : Math.max(byStep, ms / 1000 / o.timeLimitSec);
  };
  let trainMs = 0;
  let steps = 0;
  let emaLoss = NaN;
  for (let step = 0; step < o.steps; step++) {
    if (o.timeLimitSec !== undefined && trainMs / 1000 >= o.timeLimitSec) break;
    fillLmBatch(o.train, t, rng, x, y);
    const t0 = performance.now();
    const lr = lrAt(step, o, progressOf(step, trainMs));
    const loss = await state.step(session, { x: toTensor('int64', x, [o.batchSize, t]), y: toTensor('int64', y, [o.batchSize, t]) }, lr);
    trainMs += performance.now() - t0;
    steps++;
    emaLoss = Number.isNaN(emaLoss) ? loss : 0.98 * emaLoss + 0.02 * loss;
    if (!Number.isFinite(loss)) throw new ModelError('MODEL_TRAIN', `loss became ${loss} at step ${step}`);
    const evalNow = o.evalEvery !== undefined && (step + 1) % o.evalEvery === 0 && step + 1 < o.steps;
    if (evalNow || (step + 1) % 50 === 0) {
      const point: { step: number; seconds: number; trainLoss: number; heldOut?: LmEvaluation } = { step: step + 1, seconds: trainMs / 1000, trainLoss: emaLoss };
      if (evalNow) point.heldOut = await evaluateLm(evalSession, state.params(), o.heldOut, evalStarts, t, 256);
      curve.push(point);
      const tps = (o.batchSize * t * (step + 1)) / (trainMs / 1000);
      log(`step ${step + 1} loss ${emaLoss.toFixed(4)} lr ${lr.toExponential(2)} ${tps.toFixed(0)} tok/s ${(trainMs / 1000).toFixed(0)} s` + (point.heldOut ? ` held-out loss ${point.heldOut.loss.toFixed(4)} acc ${point.heldOut.accuracy.toFixed(4)}` : ''));
    }
  }
  const heldOut = await evaluateLm(evalSession, state.params(), o.heldOut, evalStarts, t, 256);
  log(`final: ${steps} steps, held-out loss ${heldOut.loss.toFixed(4)} acc ${heldOut.accuracy.toFixed(4)} on ${heldOut.samples} samples`);
  const params = new Map<string, Float32Array>();
  for (const [name, tensor] of Object.entries(state.params())) params.set(name, (tensor.data as Float32Array).slice());
  return {
    steps,
    trainSeconds: trainMs / 1000,
    tokensPerSecond: (o.batchSize * t * steps) / (trainMs / 1000),
    finalTrainLoss: emaLoss,
    heldOut,
    curve,
    params,
  };
}

/** Parameters and optimiser state of a training graph, carried from one run to the next as onnxruntime tensors. */
export class TrainState {
  private readonly values = new Map<string, ort.Tensor>();
  private stepCount = 0;

  constructor(
    private readonly tg: TrainingGraph,
    init: ReadonlyMap<string, Float32Array | Float64Array>,
  ) {
    const spec = new Map(tg.model.inputs.map((i) => [i.name, i]));
    for (const name of tg.inputs.params) {
      const data = init.get(name);
      const info = spec.get(name);
      if (data === undefined || info === undefined) throw new ModelError('MODEL_TRAIN', `no initial value for ${name}`);
      this.values.set(name, toTensor('float32', Float32Array.from(data), info.shape as number[]));
    }
    for (const s of tg.inputs.state) this.values.set(s.name, toTensor('float32', new Float32Array(s.shape.reduce<number>((a, d) => a * (d as number), 1)), s.shape as number[]));
  }

  /** Runs one step with the batch feeds; returns the loss. */
  async step(session: ort.InferenceSession, batch: Record<string, ort.Tensor>, lr: number): Promise<number> {
    const { tg } = this;
    const feeds: Record<string, ort.Tensor> = { ...batch, [tg.inputs.lr]: toTensor('float32', Float32Array.of(lr), []) };
    this.stepCount++;
    if (tg.inputs.step !== null) feeds[tg.inputs.step] = toTensor('float32', Float32Array.of(this.stepCount), []);
    for (const [k, v] of this.values) feeds[k] = v;
    const out = await runSession(session, feeds);
    tg.inputs.params.forEach((name, i) => this.values.set(name, out[tg.outputs.params[i]]));
    tg.inputs.state.forEach((s, i) => this.values.set(s.name, out[tg.outputs.state[i]]));
    return (out[tg.outputs.loss].data as Float32Array)[0];
  }

  /** Replaces the parameters and keeps the optimiser state (DiLoCo's inner model after an outer step). */
  setParams(values: ReadonlyMap<string, Float32Array>): void {
    const spec = new Map(this.tg.model.inputs.map((i) => [i.name, i]));
    for (const name of this.tg.inputs.params) {
      const data = values.get(name);
      const info = spec.get(name)!;
      const size = (info.shape as number[]).reduce((a, d) => a * d, 1);
      if (data === undefined || data.length !== size) throw new ModelError('MODEL_TRAIN', `setParams: ${name} is ${data === undefined ? 'missing' : `${data.length} values, expected ${size}`}`);
      this.values.set(name, toTensor('float32', Float32Array.from(data), info.shape as number[]));
    }
  }

  params(): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    for (const name of this.tg.inputs.params) out[name] = this.values.get(name)!;
    return out;
  }
}

/** Onnxruntime feeds of a parameter set, one tensor per parameter (copies: a ParamSet's tensors are views of one buffer). */
export function paramFeeds(p: ParamSet): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const name of p.names()) out[name] = toTensor('float32', p.tensor(name).slice(), p.spec(name).shape);
  return out;
}

/** Held-out LEAF samples scored with an evaluation session (outputs `loss`, `correct`). */
export async function evaluateLm(
  session: ort.InferenceSession,
  params: Record<string, ort.Tensor>,
  corpus: EncodedCorpus,
  starts: Uint32Array,
  seqLen: number,
  batchSize: number,
): Promise<LmEvaluation> {
  let lossSum = 0;
  let hits = 0;
  for (let i = 0; i < starts.length; i += batchSize) {
    const part = starts.subarray(i, Math.min(starts.length, i + batchSize));
    const b = part.length;
    const x = new BigInt64Array(b * seqLen);
    const y = new BigInt64Array(b * seqLen);
    fillLmWindows(corpus, part, seqLen, x, y);
    const out = await runSession(session, { ...params, x: toTensor('int64', x, [b, seqLen]), y: toTensor('int64', y, [b, seqLen]) });
    lossSum += (out.loss.data as Float32Array)[0] * b;
    hits += (out.correct.data as Float32Array)[0];
  }
  const n = starts.length;
  return { loss: lossSum / n, accuracy: hits / n, samples: n };
}
