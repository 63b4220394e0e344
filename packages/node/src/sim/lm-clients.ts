import { Rng } from '@fednode/kernels';
import { ParamSet, encodeUpdate, engine, extractSlice, models, payloadBytes, resolveCodec, resolveSlice, text, updateFromFrames, updateToFrames, type ResolvedSlice, type Slice } from '@fednode/core';
import { FedAvg, clientUpdateFrom, type AggregateResult, type FedAvgConfig } from '@fednode/aggregator';
import { SimError } from './errors.js';
import { STREAM, buildPopulation, isAvailable, type SimClient } from './population.js';
import type { Scenario } from './scenario.js';
import type { RoundRecord, SimOptions, SimSummary } from './simulator.js';
import { summarizeRun } from './summary.js';

/**
 * The text scenario (model moe-transformer, dataset sotu): one president per client, each
 * holding a seeded subset of the experts of a small character MoE transformer. A client trains
 * its sub-model (trunk + its experts, router columns of those experts) for `local.steps` AdamW
 * steps on its own text from the current global slice, sends the expert-sliced delta, and
 * FedAvg averages every element over the clients holding it. The global model is scored on
 * held-out windows (the last 10% of every president's text) after each evaluated round.
 */

const HEADER_BYTES = 256;
/** Each president's first 90% of characters train; the rest is held out (text.splitSpeakers). */
const TRAIN_FRACTION = 0.9;
const DEFAULT_EVAL_SAMPLES = 4096;

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
  if (s.strategy.kind !== 'fedavg' || t === undefined || steps === undefined) throw new SimError('SIM_RUN', `${s.name}: model moe-transformer needs transformer, local.steps and strategy fedavg`);
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
  // Every client's sub-model has the same shape (k experts), so one training session serves all.
  const local = models.transformerSubnetwork(config, { experts: clients[0].experts }).build();
  const tg = engine.buildTrainingGraph({ loss: local.loss, optimizer: { kind: 'adamw', weightDecay: 0.01 }, clipGradNorm: 1 });
  const ev = models.lmEvalOutputs(global);
  const threads = opts.threads ?? 1;
  const trainSession = await engine.createSession(tg.bytes, { intraOpThreads: threads });
  const evalSession = await engine.createSession(global.graph.toModel({ outputs: [['loss', ev.loss], ['correct', ev.correct]] }).bytes, { intraOpThreads: threads });
  const evalStarts = text.samplePositions(heldOut, t.seqLen, s.dataset.testRows ?? DEFAULT_EVAL_SAMPLES);

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
  const x = new BigInt64Array(s.local.batch * t.seqLen);
  const y = new BigInt64Array(s.local.batch * t.seqLen);
  const dims = [s.local.batch, t.seqLen];

  /** Local AdamW steps from the client's slice of `base` (fresh optimiser state each round); returns what the server receives. */
  const contribute = async (c: LmClient, base: ParamSet, baseVersion: number, round: number) => {
    const t0 = performance.now();
    const start = extractSlice(base, c.resolved);
    const state = new models.TrainState(tg, new Map(start.names().map((n) => [n, start.tensor(n)])));
    const rng = Rng.derive(s.seed, STREAM.training, round, c.id);
    for (let i = 0; i < steps; i++) {
      text.fillLmBatch(c.corpus, t.seqLen, rng, x, y);
      const loss = await state.step(trainSession, { x: engine.toTensor('int64', x, dims), y: engine.toTensor('int64', y, dims) }, s.local.lr);
      if (!Number.isFinite(loss)) throw new SimError('SIM_RUN', `${c.name}: local loss became ${loss} in round ${round}`);
    }
    const after = state.params();
    const delta = start.zerosLike();
    for (const n of delta.names()) {
      const d = delta.tensor(n);
      const a = after[n].data as Float32Array;
      const b = start.tensor(n);
      for (let i = 0; i < d.length; i++) d[i] = a[i] - b[i];
    }
    trainTime += performance.now() - t0;
    const g = c.corpus.segments[0];
    const update = encodeUpdate({ runId: s.name, sender: c.name, baseVersion, round, sequence: sequence++, examples: text.windowCount(g.end - g.start, t.seqLen) }, c.slice, delta, s.codec);
    const frames = updateToFrames(update);
    bytesUp += frames.reduce((n, f) => n + f.byteLength, 0);
    return clientUpdateFrom(updateFromFrames(frames), base.specs, c.name);
  };

  const evaluate = async (params: ParamSet, round: number, last: boolean): Promise<{ accuracy: number | null; loss: number | null }> => {
    if (!last && round % (s.evalEvery ?? 1) !== 0) return { accuracy: null, loss: null };
    const e = await models.evaluateLm(evalSession, models.paramFeeds(params), heldOut, evalStarts, t.seqLen, 256);
    return { accuracy: e.accuracy, loss: e.loss };
  };

  try {
    const { kind: _kind, deadlineS, backupWorkers = 0, cohort: _cohort, ...fedavg } = s.strategy;
    const strategy = new FedAvg(init, fedavg as FedAvgConfig);
    const minParticipants = fedavg.minParticipants ?? 1;
    let now = 0;
    for (let round = 0; round < s.rounds; round++) {
      if (s.timeBudgetS !== undefined && now >= s.timeBudgetS) break;
      const online = clients.filter((c) => isAvailable(s, c, now, round));
      const pick = Uint32Array.from({ length: online.length }, (_, i) => i);
      Rng.derive(s.seed, STREAM.selection, round).shuffle(pick);
      const cohort = [...pick.subarray(0, Math.min(s.clients.perRound, online.length))].map((i) => online[i]);
      const dropRng = Rng.derive(s.seed, STREAM.dropout, round);
      const dispatches = cohort
        .map((c) => ({ client: c, arrival: timeOf(c, now), dropped: dropRng.uniform() < (s.clients.dropout ?? 0) }))
        .sort((a, b) => a.arrival - b.arrival || a.client.id - b.client.id);
      bytesDown += cohort.length * modelBytes;
      const deadline = deadlineS === undefined ? Infinity : now + deadlineS;
      const needed = Math.max(1, cohort.length - backupWorkers);
      const arriving = dispatches.filter((d) => !d.dropped && d.arrival <= deadline);
      const used = arriving.slice(0, needed);
      if (used.length < minParticipants) {
        now = Number.isFinite(deadline) ? deadline : now + 1;
        strategy.abandonRound();
        continue;
      }
      const end = used.length === needed ? used[used.length - 1].arrival : Number.isFinite(deadline) ? deadline : used[used.length - 1].arrival;
      let refused = 0;
      const base = strategy.global.clone();
      for (const d of used) {
        if (!strategy.offer(await contribute(d.client, base, strategy.version, strategy.round)).accepted) refused++;
      }
      now = end;
      const result: AggregateResult = strategy.aggregate(now * 1000);
      const e = await evaluate(result.params, round, round === s.rounds - 1);
      const rec: RoundRecord = {
        round,
        version: result.version,
        virtual_time_s: now,
        ...e,
        bytes_up: bytesUp,
        bytes_down: bytesDown,
        participants: result.participants.length,
        dispatched: cohort.length,
        dropped: dispatches.filter((d) => d.dropped).length,
        late: dispatches.filter((d) => !d.dropped).length - used.length,
        refused,
        attackers: 0,
        mean_staleness: 0,
        wall_s: (performance.now() - wall0) / 1000,
      };
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      records.push(rec);
      opts.onRound?.(rec);
    }
  } finally {
    await trainSession.release();
    await evalSession.release();
  }
  const summary: SimSummary = {
    ...summarizeRun(s, opts, records, { bytesUp, bytesDown, clients: clients.length, peakRssBytes: peakRss, trainMs: trainTime, wall0 }),
    model_params: init.size,
  };
  return { summary, records };
}
