import { Rng } from '@fednode/kernels';
import {
  ErrorFeedback,
  encodeUpdate,
  engine,
  extractSlice,
  fullSlice,
  payloadBytes,
  resolveCodec,
  resolveSlice,
  tasks,
  updateFromFrames,
  updateToFrames,
  type ParamSet,
  type ResolvedSlice,
  type Slice,
  type Task,
  type TensorSpec,
} from '@fednode/core';
import { clientUpdateFrom, createStrategy } from '@fednode/aggregator';
import { localTrainingOf, taskOf, type RunLocalTraining } from '../daemon/run-file.js';
import { trainerSlice } from '../daemon/slices.js';
import { attackDelta, flippedShare } from './attacks.js';
import { STREAM, buildPopulation, type SimClient } from './population.js';
import { isOneShot, type Scenario } from './scenario.js';
import { driveStrategy } from './driver.js';
import { summarizeRun } from './summary.js';
import { runOneShot, type OneShotSpec } from './oneshot.js';
import type { RoundRecord, SimOptions, SimSummary } from './types.js';

export type { RoundRecord, SimOptions, SimSummary };

/** Framing around a model or an update, on top of its payload (an estimate; real runs and their predictions count the same). */
export const MODEL_HEADER_BYTES = 256;
export const UPDATE_HEADER_BYTES = 256;

/**
 * A sub-network some clients train (all of them train the whole model without a slices
 * section): its trainer (one per distinct slice: each is its own architecture), where it sits
 * in the global model (null: the whole model, nothing to extract), and what its download and
 * upload weigh.
 */
interface Variant {
  readonly label: string;
  readonly trainer: engine.Trainer;
  readonly slice: Slice;
  readonly resolved: ResolvedSlice | null;
  readonly modelBytes: number;
  readonly updateBytes: number;
}

/** Examples one local step processes on average (what a client's speed divides). */
function examplesPerStep(local: RunLocalTraining, batch: number, share: tasks.DataShare): number {
  return 'steps' in local.budget ? batch : (share.examples * local.budget.epochs) / tasks.budgetSteps(local.budget, share, batch);
}

/**
 * Runs a scenario on one machine: simulated clients with their own speed, links,
 * availability and behaviour, training the scenario's task for real (the engine and the one
 * local loop every runtime uses), encoding for real (the codecs), aggregated by the real
 * strategy, on a virtual clock. Deterministic for its seed.
 */
export async function simulate(scenario: Scenario, opts: SimOptions = {}): Promise<{ summary: SimSummary; records: RoundRecord[] }> {
  const s: Scenario = { ...scenario, seed: opts.seed ?? scenario.seed, rounds: opts.rounds ?? scenario.rounds };
  const wall0 = performance.now();
  const task = taskOf(s);
  if (isOneShot(s.strategy)) return simulateOneShot(s, s.strategy, task, opts, wall0);
  const section = s.strategy;
  const clients = buildPopulation(s, task);
  const local = localTrainingOf({ ...s, strategy: section });
  // One worker for every slice's trainer and the evaluator.
  const executor = engine.Executor.create({ intraOpThreads: opts.threads ?? 1 });
  const learner = (spec: tasks.SubnetSpec) =>
    tasks.createLearner(task.subnet(spec), {
      optimizer: local.optimizer,
      lr: s.local.lr,
      seed: s.seed,
      executor,
      ...(local.clipGradNorm === undefined ? {} : { clipGradNorm: local.clipGradNorm }),
      ...(local.proximalMu === undefined ? {} : { proximalMu: local.proximalMu }),
    });
  const trainers: engine.Trainer[] = [];
  const records: RoundRecord[] = [];
  let peakRss = 0;
  try {
    const init = task.initialParams(s.seed);
    const whole = await learner({});
    trainers.push(whole);
    const bytesOf = (specs: readonly TensorSpec[]) => ({
      modelBytes: specs.reduce((n, sp) => n + sp.shape.reduce((k, d) => k * d, 4), 0) + MODEL_HEADER_BYTES,
      updateBytes: specs.reduce((n, sp) => n + payloadBytes([...sp.shape], resolveCodec(s.codec, [...sp.shape])), 0) + UPDATE_HEADER_BYTES,
    });
    const full: Variant = { label: 'the whole model', trainer: whole, slice: fullSlice(init.specs), resolved: null, ...bytesOf(init.specs) };
    // Each client's slice, as a trainer daemon of the same share would resolve it.
    const variants = new Map<string, Variant>();
    const variantOf: Variant[] = [];
    for (const c of clients) {
      const a = trainerSlice(s, task, { peerId: '', name: c.name, share: c.id });
      if (a.slice === null) {
        variantOf.push(full);
        continue;
      }
      let v = variants.get(a.label);
      if (v === undefined) {
        const resolved = resolveSlice(a.slice, init.specs);
        const t = await learner(a.spec);
        trainers.push(t);
        v = { label: a.label, trainer: t, slice: a.slice, resolved, ...bytesOf(resolved.localSpecs) };
        variants.set(a.label, v);
      }
      variantOf.push(v);
    }
    const feedback = new Map<number, ErrorFeedback>();
    let trainTime = 0;
    let bytesUp = 0;
    let bytesDown = 0;
    let sequence = 0;
    let partial = 0;

    // Download, latency and upload around the local work, which takes its examples at the client's speed.
    const plan = (c: SimClient, start: number, deadline: number) => {
      const v = variantOf[c.id];
      const fixed = 2 * c.latencyS + v.modelBytes / c.downlinkBytesPerS + v.updateBytes / c.uplinkBytesPerS;
      const perStep = examplesPerStep(local, s.local.batch, c.share) / c.speed;
      const arrival = start + fixed + tasks.budgetSteps(local.budget, c.share, s.local.batch) * perStep;
      if (local.partialWork !== true || arrival <= deadline) return { arrival, steps: null };
      // FedProx's partial work: the steps that fit before the deadline (none fit: late as any other).
      const fit = Math.floor((deadline - start - fixed) / perStep);
      return fit < 1 ? { arrival, steps: null } : { arrival: start + fixed + fit * perStep, steps: fit };
    };

    /** Trains `c` from `base`, attacks if it is an attacker, encodes, and decodes what the server receives. */
    const contribute = async (c: SimClient, base: ParamSet, baseVersion: number, round: number, steps: number | null) => {
      const seed = Rng.derive(s.seed, STREAM.training, round, c.id).nextU32();
      const v = variantOf[c.id];
      // The client's copy of the model: its slice of the global one (all of it when whole).
      const start = v.resolved === null ? base : extractSlice(base, v.resolved);
      let delta: ParamSet;
      if (c.attack?.kind === 'free-rider') {
        delta = start.zerosLike();
      } else {
        const t0 = performance.now();
        await v.trainer.setParams(start);
        const share = c.attack?.kind === 'label-flip' ? flippedShare(c.share, task) : c.share;
        await tasks.trainLocal(v.trainer, share, { budget: local.budget, batch: s.local.batch, lr: s.local.lr, schedule: local.schedule, seed, ...(steps === null ? {} : { stopAfter: steps }) });
        if (steps !== null) partial++;
        delta = await v.trainer.params();
        const d = delta.data;
        const g = start.data;
        for (let i = 0; i < d.length; i++) d[i] -= g[i];
        trainTime += performance.now() - t0;
      }
      if (c.attack) attackDelta(c.attack, delta, seed);
      let ef: ErrorFeedback | undefined;
      if (s.codec.errorFeedback) {
        ef = feedback.get(c.id) ?? new ErrorFeedback();
        feedback.set(c.id, ef);
      }
      const update = encodeUpdate({ runId: s.run, sender: c.name, baseVersion, round, sequence: sequence++, examples: c.share.examples }, v.slice, delta, s.codec, ef);
      const frames = updateToFrames(update);
      bytesUp += frames.reduce((n, f) => n + f.byteLength, 0);
      return clientUpdateFrom(updateFromFrames(frames), base.specs, c.name);
    };

    const evaluateWhole = async (params: ParamSet) => {
      await whole.setParams(params);
      return tasks.evaluateOn(whole, task, s.data.testRows);
    };
    const evaluate = async (params: ParamSet, round: number, last: boolean): Promise<{ accuracy: number | null; loss: number | null }> => {
      if (!last && round % (s.evalEvery ?? 1) !== 0) return { accuracy: null, loss: null };
      const e = await evaluateWhole(params);
      return { accuracy: e.accuracy, loss: e.loss };
    };

    const record = (r: Omit<RoundRecord, 'wall_s' | 'bytes_up' | 'bytes_down'>): void => {
      const rec: RoundRecord = { ...r, bytes_up: bytesUp, bytes_down: bytesDown, wall_s: (performance.now() - wall0) / 1000 };
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      records.push(rec);
      opts.onRound?.(rec);
    };

    const initial = await evaluateWhole(init);
    const finalParams = await driveStrategy(s, createStrategy(init, section, { runId: s.run }), {
      clients,
      plan,
      dispatched: (c) => {
        bytesDown += variantOf[c.id].modelBytes;
      },
      contribute,
      evaluate,
      record,
    });
    // Each slice's sub-network of the final global model, on the same held-out examples as the whole model.
    const bySlice: { accuracy: Record<string, number>; loss: Record<string, number> } = { accuracy: {}, loss: {} };
    for (const v of variants.values()) {
      await v.trainer.setParams(extractSlice(finalParams, v.resolved!));
      const e = await tasks.evaluateOn(v.trainer, task, s.data.testRows);
      bySlice.accuracy[v.label] = e.accuracy;
      bySlice.loss[v.label] = e.loss;
    }
    const summary: SimSummary = {
      ...summarizeRun(s, opts, records, { bytesUp, bytesDown, clients: clients.length, peakRssBytes: peakRss, trainMs: trainTime, wall0 }),
      initial_accuracy: initial.accuracy,
      initial_loss: initial.loss,
      model_params: init.size,
      ...(local.partialWork === true ? { partial_updates: partial } : {}),
      ...(variants.size === 0 ? {} : { accuracy_by_slice: bySlice.accuracy, loss_by_slice: bySlice.loss }),
    };
    return { summary, records };
  } finally {
    for (const t of trainers) await t.close();
    await executor.close();
  }
}

async function simulateOneShot(s: Scenario, spec: OneShotSpec, task: Task, opts: SimOptions, wall0: number): Promise<{ summary: SimSummary; records: RoundRecord[] }> {
  const r = await runOneShot(s, spec, task);
  const avg = r.rows.find((x) => x.method.startsWith('average'))!;
  const summary: SimSummary = {
    ...summarizeRun(s, opts, [], { bytesUp: 0, bytesDown: 0, clients: s.data.shares, peakRssBytes: process.memoryUsage().rss, trainMs: r.wall_time_s * 1000, wall0 }),
    final_accuracy: avg.accuracy,
    final_loss: avg.loss ?? 0,
    rounds: 1,
    overhead_share: 0,
    oneshot: r,
  };
  return { summary, records: [] };
}

/** Failures of the scenario's expected outcome (empty when it is met). */
export function checkExpectations(s: Scenario, summary: SimSummary): string[] {
  const e = s.expect ?? {};
  const out: string[] = [];
  if (e.minFinalAccuracy !== undefined && !(summary.final_accuracy >= e.minFinalAccuracy)) {
    out.push(`final accuracy ${summary.final_accuracy.toFixed(4)} is below the expected ${e.minFinalAccuracy}`);
  }
  if (e.maxFinalLoss !== undefined && !(summary.final_loss <= e.maxFinalLoss)) out.push(`final loss ${summary.final_loss.toFixed(4)} is above the expected ${e.maxFinalLoss}`);
  if (e.maxVirtualTimeS !== undefined && !(summary.virtual_time_s <= e.maxVirtualTimeS)) {
    out.push(`virtual time ${summary.virtual_time_s.toFixed(1)} s is over the expected ${e.maxVirtualTimeS} s`);
  }
  if (e.maxBytesUp !== undefined && !(summary.bytes_up <= e.maxBytesUp)) out.push(`${summary.bytes_up} bytes sent up, over the expected ${e.maxBytesUp}`);
  if (e.reachTarget && summary.time_to_target_s === null) out.push(`the target accuracy ${s.target?.accuracy} was never reached`);
  return out;
}
