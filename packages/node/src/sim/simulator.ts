import { Rng } from '@fednode/kernels';
import {
  ErrorFeedback,
  ParamSet,
  batches,
  encodeUpdate,
  engine,
  extractSlice,
  fullSlice,
  models,
  loadImageDataset,
  payloadBytes,
  resolveCodec,
  resolveSlice,
  subset,
  updateFromFrames,
  updateToFrames,
  type Dataset,
  type ResolvedSlice,
  type Slice,
} from '@fednode/core';
import { clientUpdateFrom, createStrategy, localTrainingOf, type LocalTraining } from '@fednode/aggregator';
import { attackDelta, flipLabels } from './attacks.js';
import { SimError } from './errors.js';
import { STREAM, buildPopulation, type SimClient } from './population.js';
import { isOneShot, type Scenario } from './scenario.js';
import { driveStrategy } from './driver.js';
import { summarizeRun } from './summary.js';
import { runOneShot, type OneShotResult, type OneShotSpec } from './oneshot.js';
import { simulateLm } from './lm-clients.js';
import type { RoundRecord, SimOptions, SimSummary } from './types.js';

export type { RoundRecord, SimOptions, SimSummary };

/** Size in bytes of the model a client downloads (dense fp32) plus a small header. */
const MODEL_HEADER_BYTES = 256;
const UPDATE_HEADER_BYTES = 256;

/**
 * What a client of one width trains and sends: its trainer (created once per width), the slice
 * of the global model it holds (null: the whole model, nothing to extract) and what its
 * download and upload weigh.
 */
interface Variant {
  readonly width: number;
  readonly trainer: engine.Trainer;
  readonly slice: Slice;
  readonly resolved: ResolvedSlice | null;
  readonly modelBytes: number;
  readonly updateBytes: number;
}

/** The global model's graph: a named engine model, or the MLP supernet at full width. */
function globalModel(s: Scenario): engine.ModelName | (() => engine.ModelGraph) {
  if (s.model === 'moe-transformer') throw new SimError('SIM_RUN', 'model moe-transformer runs in simulateLm, not on an engine.Trainer');
  return s.model === 'mlp-supernet' ? () => models.mlpSupernetModel(models.MNIST_MLP_SUPERNET) : s.model;
}

/**
 * Runs a scenario on one machine: simulated clients with their own speed, links,
 * availability and behaviour, training for real (the engine), encoding for real (the codecs),
 * aggregated by the real strategy, on a virtual clock. Deterministic for its seed.
 */
export async function simulate(scenario: Scenario, opts: SimOptions = {}): Promise<{ summary: SimSummary; records: RoundRecord[] }> {
  const s: Scenario = { ...scenario, seed: opts.seed ?? scenario.seed, rounds: opts.rounds ?? scenario.rounds };
  // The text scenario has its own data, model and local loop (onnxruntime sessions, not engine.Trainer).
  if (s.model === 'moe-transformer') return simulateLm(s, opts);
  const wall0 = performance.now();
  const data = opts.data ?? loadData(s);
  if (isOneShot(s.strategy)) return simulateOneShot(s, s.strategy, data, opts);
  const section = s.strategy;
  const clients = buildPopulation(s, data.train.y);
  const flipped: Dataset = { ...data.train, y: flipLabels(data.train.y, data.train.classes) };
  // One worker for every width's trainer: each width is its own architecture (one session each).
  const executor = engine.Executor.create({ intraOpThreads: opts.threads ?? 1 });
  const training = localTrainingOf(section);
  const trainerFor = (model: engine.ModelName | (() => engine.ModelGraph)) => engine.Trainer.create(localTrainerOptions(s, model, executor, training));
  const trainers: engine.Trainer[] = [];
  const records: RoundRecord[] = [];
  let peakRss = 0;
  try {
    const trainer = await trainerFor(globalModel(s));
    trainers.push(trainer);
    const init = await trainer.params();
    const bytesOf = (specs: readonly { shape: readonly number[] }[]) => ({
      modelBytes: specs.reduce((n, sp) => n + sp.shape.reduce((k, d) => k * d, 4), 0) + MODEL_HEADER_BYTES,
      updateBytes: specs.reduce((n, sp) => n + payloadBytes([...sp.shape], resolveCodec(s.codec, [...sp.shape])), 0) + UPDATE_HEADER_BYTES,
    });
    const full: Variant = { width: 1, trainer, slice: fullSlice(init.specs), resolved: null, ...bytesOf(init.specs) };
    // Each distinct width below 1 gets its sub-network's trainer once; width 1 is the global model itself.
    const byWidth = new Map<number, Variant>([[1, full]]);
    for (const w of s.clients.widths ?? []) {
      if (byWidth.has(w)) continue;
      const sub = models.mlpSubnetwork(models.MNIST_MLP_SUPERNET, { width: w });
      const resolved = resolveSlice(sub.slice, init.specs);
      const t = await trainerFor(() => sub.build());
      trainers.push(t);
      byWidth.set(w, { width: w, trainer: t, slice: sub.slice, resolved, ...bytesOf(resolved.localSpecs) });
    }
    const widths = s.clients.widths;
    const variantOf = (c: SimClient): Variant => (widths === undefined ? full : byWidth.get(widths[c.id % widths.length])!);
    let finalParams = init;
    const feedback = new Map<number, ErrorFeedback>();
    let trainTime = 0;
    let bytesUp = 0;
    let bytesDown = 0;
    let sequence = 0;

    const timeOf = (c: SimClient, start: number): number => {
      const v = variantOf(c);
      return start + 2 * c.latencyS + v.modelBytes / c.downlinkBytesPerS + (c.rows.length * s.local.epochs) / c.speed + v.updateBytes / c.uplinkBytesPerS;
    };

    /** Trains `c` from `base`, attacks if it is an attacker, encodes, and decodes what the server receives. */
    const contribute = async (c: SimClient, base: ParamSet, baseVersion: number, round: number) => {
      const seed = Rng.derive(s.seed, STREAM.training, round, c.id).nextU32();
      const v = variantOf(c);
      // The client's copy of the model: its slice of the global one (all of it at full width).
      const local = v.resolved === null ? base : extractSlice(base, v.resolved);
      const trainer = v.trainer;
      let delta: ParamSet;
      if (c.attack?.kind === 'free-rider') {
        delta = local.zerosLike();
      } else {
        const t0 = performance.now();
        await trainer.setParams(local);
        const ds = c.attack?.kind === 'label-flip' ? flipped : data.train;
        const steps: Promise<number>[] = [];
        for (let e = 0; e < s.local.epochs; e++) {
          for (const b of batches(ds, { batchSize: s.local.batch, seed, epoch: e, indices: c.rows })) steps.push(trainer.step(b));
        }
        await Promise.all(steps);
        delta = await trainer.params();
        const d = delta.data;
        const g = local.data;
        for (let i = 0; i < d.length; i++) d[i] -= g[i];
        trainTime += performance.now() - t0;
      }
      if (c.attack) attackDelta(c.attack, delta, seed);
      let ef: ErrorFeedback | undefined;
      if (s.codec.errorFeedback) {
        ef = feedback.get(c.id) ?? new ErrorFeedback();
        feedback.set(c.id, ef);
      }
      const update = encodeUpdate(
        { runId: s.name, sender: c.name, baseVersion, round, sequence: sequence++, examples: c.rows.length },
        v.slice,
        delta,
        s.codec,
        ef,
      );
      const frames = updateToFrames(update);
      bytesUp += frames.reduce((n, f) => n + f.byteLength, 0);
      return clientUpdateFrom(updateFromFrames(frames), base.specs, c.name);
    };

    const evaluate = async (params: ParamSet, round: number, last: boolean): Promise<{ accuracy: number | null; loss: number | null }> => {
      if (!last && round % (s.evalEvery ?? 1) !== 0) return { accuracy: null, loss: null };
      await trainer.setParams(params);
      const e = await trainer.evaluate(data.test);
      return { accuracy: e.accuracy, loss: e.loss };
    };

    const record = (r: Omit<RoundRecord, 'wall_s' | 'bytes_up' | 'bytes_down'>): void => {
      const rec: RoundRecord = { ...r, bytes_up: bytesUp, bytes_down: bytesDown, wall_s: (performance.now() - wall0) / 1000 };
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      records.push(rec);
      opts.onRound?.(rec);
    };

    finalParams = await driveStrategy(s, createStrategy(init, section), {
      clients,
      arrivalOf: timeOf,
      dispatched: (c) => {
        bytesDown += variantOf(c).modelBytes;
      },
      contribute,
      evaluate,
      record,
    });
    // Each width's sub-network of the final global model, on the same test rows as the full model.
    let widthAccuracy: Record<string, number> | undefined;
    if (widths !== undefined) {
      widthAccuracy = {};
      for (const v of [...byWidth.values()].sort((a, b) => b.width - a.width)) {
        await v.trainer.setParams(v.resolved === null ? finalParams : extractSlice(finalParams, v.resolved));
        widthAccuracy[String(v.width)] = (await v.trainer.evaluate(data.test)).accuracy;
      }
    }
    const summary: SimSummary = {
      ...summarizeRun(s, opts, records, { bytesUp, bytesDown, clients: clients.length, peakRssBytes: peakRss, trainMs: trainTime, wall0 }),
      ...(widthAccuracy === undefined ? {} : { width_accuracy: widthAccuracy }),
    };
    return { summary, records };
  } finally {
    for (const t of trainers) await t.close();
    await executor.close();
  }
}

/**
 * The one place the simulator's image clients get their local training settings.
 * The strategy's local-training needs (FedProx's proximal term) reach the trainer here.
 */
function localTrainerOptions(s: Scenario, model: engine.ModelName | (() => engine.ModelGraph), executor: engine.Executor, training: LocalTraining): Parameters<typeof engine.Trainer.create>[0] {
  const prox = training.proximalMu === undefined ? {} : { proximal: true, proximalMu: training.proximalMu };
  return { model, optimizer: { kind: 'sgd', momentum: s.local.momentum ?? 0 }, seed: s.seed, lr: s.local.lr, executor, ...prox };
}

async function simulateOneShot(s: Scenario, spec: OneShotSpec, data: { train: Dataset; test: Dataset }, opts: SimOptions): Promise<{ summary: SimSummary; records: RoundRecord[] }> {
  const r = await runOneShot(s, spec, data);
  const avg = r.rows.find((x) => x.method.startsWith('average'))!;
  const summary: SimSummary = {
    scenario: s.name,
    label: opts.label ?? s.name,
    final_accuracy: avg.accuracy,
    final_loss: avg.loss ?? 0,
    rounds: 1,
    virtual_time_s: 0,
    bytes_up: 0,
    bytes_down: 0,
    wall_time_s: r.wall_time_s,
    clients: s.clients.count,
    peak_rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
    train_time_s: r.wall_time_s,
    overhead_share: 0,
    time_to_target_s: null,
    bytes_up_to_target: null,
    oneshot: r,
  };
  return { summary, records: [] };
}

const datasetCache = new Map<string, { train: Dataset; test: Dataset }>();

/** The scenario's train and test sets (cached per process: sweeps reuse them). */
export function loadData(s: Scenario): { train: Dataset; test: Dataset } {
  const key = `${s.dataset.name}/${s.dataset.trainRows ?? 'all'}/${s.dataset.testRows ?? 'all'}`;
  let d = datasetCache.get(key);
  if (d === undefined) {
    if (s.dataset.name === 'sotu') throw new SimError('SIM_RUN', 'dataset sotu is text: simulate loads it itself');
    const splits = loadImageDataset(s.dataset.name);
    const first = (n: number | undefined, ds: Dataset) => (n === undefined || n >= ds.count ? ds : subset(ds, Uint32Array.from({ length: n }, (_, i) => i)));
    d = { train: first(s.dataset.trainRows, splits.train), test: first(s.dataset.testRows, splits.test) };
    datasetCache.set(key, d);
  }
  return d;
}

/** Failures of the scenario's expected outcome (empty when it is met). */
export function checkExpectations(s: Scenario, summary: SimSummary): string[] {
  const e = s.expect ?? {};
  const out: string[] = [];
  if (e.minFinalAccuracy !== undefined && !(summary.final_accuracy >= e.minFinalAccuracy)) {
    out.push(`final accuracy ${summary.final_accuracy.toFixed(4)} is below the expected ${e.minFinalAccuracy}`);
  }
  if (e.maxVirtualTimeS !== undefined && !(summary.virtual_time_s <= e.maxVirtualTimeS)) {
    out.push(`virtual time ${summary.virtual_time_s.toFixed(1)} s is over the expected ${e.maxVirtualTimeS} s`);
  }
  if (e.maxBytesUp !== undefined && !(summary.bytes_up <= e.maxBytesUp)) out.push(`${summary.bytes_up} bytes sent up, over the expected ${e.maxBytesUp}`);
  if (e.reachTarget && summary.time_to_target_s === null) out.push(`the target accuracy ${s.target?.accuracy} was never reached`);
  return out;
}
