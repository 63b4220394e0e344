import { Rng } from '@fednode/kernels';
import { ParamSet, encodeUpdate, engine, extractSlice, models, payloadBytes, resolveCodec, resolveSlice, text, updateFromFrames, updateToFrames, type ResolvedSlice, type Slice } from '@fednode/core';
import { clientUpdateFrom, createStrategy, localTrainingOf } from '@fednode/aggregator';
import { SimError } from './errors.js';
import { STREAM, buildPopulation, type SimClient } from './population.js';
import { isOneShot, type Scenario } from './scenario.js';
import { driveStrategy } from './driver.js';
import type { RoundRecord, SimOptions, SimSummary } from './types.js';
import { summarizeRun } from './summary.js';

/**
 * The text scenario (model moe-transformer, dataset sotu): one president per client, each
 * holding a seeded subset of the experts of a small character MoE transformer. A client trains
 * its sub-model (trunk + its experts, router columns of those experts) for `local.steps` AdamW
 * steps on its own text from the current global slice, sends the expert-sliced delta, and
 * the scenario's strategy folds it in (FedAvg: every element averaged over the clients
 * holding it; robust rules cannot take slices). The global model is scored on
 * held-out windows (the last 10% of every president's text) after each evaluated round.
 */

const HEADER_BYTES = 256;
/** Each president's first 90% of characters train; the rest is held out (text.splitSpeakers). */
const TRAIN_FRACTION = 0.9;
const DEFAULT_EVAL_SAMPLES = 4096;
const EVAL_BATCH = 256;

interface LmClient extends SimClient {
  readonly experts: readonly number[];
  readonly corpus: text.EncodedCorpus;
  readonly slice: Slice;
  readonly resolved: ResolvedSlice;
}

/** Draws `k` distinct expert ids of `experts` for client `id` (ascending), seeded per client so a client always holds the same ones. */
export function expertsOf(seed: number, id: number, experts: number, k: number): number[] {
  const order = Uint32Array.from({ length: experts }, (_, i) => i);
  Rng.derive(seed, STREAM.experts, id).shuffle(order);
  return [...order.subarray(0, k)].sort((a, b) => a - b);
}

export async function simulateLm(s: Scenario, opts: SimOptions): Promise<{ summary: SimSummary; records: RoundRecord[] }> {
  const t = s.transformer;
  const steps = s.local.steps;
  const section = s.strategy;
  if (isOneShot(section) || t === undefined || steps === undefined) throw new SimError('SIM_RUN', `${s.name}: model moe-transformer needs transformer, local.steps and a federated strategy`);
  const wall0 = performance.now();
  const speakers = text.loadSotu().slice(0, s.clients.count);
  const split = text.splitSpeakers(speakers, TRAIN_FRACTION);
  // The vocabulary sees training text only, so held-out characters are never peeked at.
  const vocab = text.CharVocab.fromTexts(split.train.map((x) => x.text));
  const train = text.encodeCorpus(split.train, vocab);
  const heldOut = text.encodeCorpus(split.heldOut, vocab);
  const config: models.TransformerConfig = {
    vocab: vocab.size,
    seqLen: t.seqLen,
    dModel: t.dModel,
    heads: t.heads,
    headDim: t.headDim,
    ffDim: t.ffDim,
    layers: t.layers,
    moe: { experts: t.experts, topK: t.topK, ffDim: t.ffDim },
  };
  const k = s.clients.expertsPerClient ?? t.experts;
  const global = models.transformerLM(config);
  const initMap = engine.initParams(global.graph, ((r) => () => r.uniform())(Rng.derive(s.seed, STREAM.training, 0xffffffff)));
  const init = ParamSet.fromTensors(global.graph.params.map((p) => ({ name: p.name, shape: p.shape as number[], data: initMap.get(p.name)! })));

  // rows: [start, end) of the president's training text in `train` (what partition natural hands out).
  const natural = train.segments.map((g) => Uint32Array.of(g.start, g.end));
  const clients: LmClient[] = buildPopulation(s, new Uint8Array(0), natural).map((c) => {
    const experts = expertsOf(s.seed, c.id, t.experts, k);
    const slice = models.moeExpertSlice(config, experts);
    const g = train.segments[c.id];
    return { ...c, name: g.name, experts, corpus: { ids: train.ids, segments: [g] }, slice, resolved: resolveSlice(slice, init.specs) };
  });
  for (const c of clients) {
    if (text.windowCount(c.corpus.segments[0].end - c.corpus.segments[0].start, t.seqLen) < 1) throw new SimError('SIM_RUN', `${c.name}'s text is shorter than seqLen ${t.seqLen}`);
  }
  // Every client's sub-model has the same shape (k experts), so one trainer serves all; the
  // global model's evaluator shares its worker. The strategy's local-training needs (FedProx's
  // proximal term) reach the trainer here.
  const trainable = (m: models.TransformerModel): engine.TrainableModel => ({ graph: m.graph, loss: m.loss, evaluation: models.lmEvalOutputs(m) });
  const executor = engine.Executor.create({ intraOpThreads: opts.threads ?? 1 });
  const { proximalMu } = localTrainingOf(section);
  const trainer = await engine.Trainer.create({
    model: () => trainable(models.transformerSubnetwork(config, { experts: clients[0].experts }).build()),
    optimizer: { kind: 'adamw', weightDecay: 0.01 },
    clipGradNorm: 1,
    seed: s.seed,
    lr: s.local.lr,
    executor,
    ...(proximalMu === undefined ? {} : { proximal: true, proximalMu }),
  });
  const evaluator = await engine.Trainer.create({ model: () => trainable(global), optimizer: { kind: 'sgd', momentum: 0 }, seed: s.seed, lr: 1, executor });
  const evalStarts = text.samplePositions(heldOut, t.seqLen, s.dataset.testRows ?? DEFAULT_EVAL_SAMPLES);
  const evalBatches = function* (): Generator<engine.FeedBatch> {
    for (let i = 0; i < evalStarts.length; i += EVAL_BATCH) {
      const part = evalStarts.subarray(i, Math.min(evalStarts.length, i + EVAL_BATCH));
      const ex = new BigInt64Array(part.length * t.seqLen);
      const ey = new BigInt64Array(part.length * t.seqLen);
      text.fillLmWindows(heldOut, part, t.seqLen, ex, ey);
      const ed = [part.length, t.seqLen];
      yield { size: part.length, feeds: { x: { dtype: 'int64', dims: ed, data: ex }, y: { dtype: 'int64', dims: ed, data: ey } } };
    }
  };

  const localSpecs = clients[0].resolved.localSpecs;
  const modelBytes = localSpecs.reduce((n, sp) => n + sp.shape.reduce((a, d) => a * d, 4), 0) + HEADER_BYTES;
  const updateBytes = localSpecs.reduce((n, sp) => n + payloadBytes([...sp.shape], resolveCodec(s.codec, [...sp.shape])), 0) + HEADER_BYTES;
  const timeOf = (c: SimClient, start: number): number => start + 2 * c.latencyS + modelBytes / c.downlinkBytesPerS + (steps * s.local.batch) / c.speed + updateBytes / c.uplinkBytesPerS;

  const records: RoundRecord[] = [];
  let peakRss = 0;
  let trainTime = 0;
  let bytesUp = 0;
  let bytesDown = 0;
  let sequence = 0;
  // Each step's batch is copied to the worker before the next is drawn: one pair of buffers serves every step.
  const x = new BigInt64Array(s.local.batch * t.seqLen);
  const y = new BigInt64Array(s.local.batch * t.seqLen);
  const dims = [s.local.batch, t.seqLen];
  const batch: engine.FeedBatch = { size: s.local.batch, feeds: { x: { dtype: 'int64', dims, data: x }, y: { dtype: 'int64', dims, data: y } } };

  /** Local AdamW steps from the client's slice of `base` (fresh optimiser state each round); returns what the server receives. */
  const contribute = async (c: LmClient, base: ParamSet, baseVersion: number, round: number) => {
    const t0 = performance.now();
    const start = extractSlice(base, c.resolved);
    await trainer.setParams(start);
    const rng = Rng.derive(s.seed, STREAM.training, round, c.id);
    for (let i = 0; i < steps; i++) {
      text.fillLmBatch(c.corpus, t.seqLen, rng, x, y);
      await trainer.step(batch);
    }
    const delta = await trainer.params();
    const d = delta.data;
    const b = start.data;
    for (let i = 0; i < d.length; i++) d[i] -= b[i];
    trainTime += performance.now() - t0;
    const g = c.corpus.segments[0];
    const update = encodeUpdate({ runId: s.name, sender: c.name, baseVersion, round, sequence: sequence++, examples: text.windowCount(g.end - g.start, t.seqLen) }, c.slice, delta, s.codec);
    const frames = updateToFrames(update);
    bytesUp += frames.reduce((n, f) => n + f.byteLength, 0);
    return clientUpdateFrom(updateFromFrames(frames), base.specs, c.name);
  };

  const evaluate = async (params: ParamSet, round: number, last: boolean): Promise<{ accuracy: number | null; loss: number | null }> => {
    if (!last && round % (s.evalEvery ?? 1) !== 0) return { accuracy: null, loss: null };
    await evaluator.setParams(params);
    const e = await evaluator.evaluateBatches(evalBatches());
    return { accuracy: e.accuracy, loss: e.loss };
  };

  try {
    await driveStrategy(s, createStrategy(init, section), {
      clients,
      arrivalOf: timeOf,
      dispatched: () => {
        bytesDown += modelBytes;
      },
      contribute,
      evaluate,
      record: (r) => {
        const rec: RoundRecord = { ...r, bytes_up: bytesUp, bytes_down: bytesDown, wall_s: (performance.now() - wall0) / 1000 };
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        records.push(rec);
        opts.onRound?.(rec);
      },
    });
  } finally {
    await trainer.close();
    await evaluator.close();
    await executor.close();
  }
  const summary: SimSummary = {
    ...summarizeRun(s, opts, records, { bytesUp, bytesDown, clients: clients.length, peakRssBytes: peakRss, trainMs: trainTime, wall0 }),
    model_params: init.size,
  };
  return { summary, records };
}
