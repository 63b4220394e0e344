import { Rng } from '@fednode/kernels';
import { tasks, type ParamSet, type Task, type engine } from '@fednode/core';
import { dare, mergeAverage, mergeWithWeightMatching, taskArithmetic, ties, weightMatching, type MlpLayer } from '@fednode/aggregator';
import { localTrainingOf } from '../daemon/run-file.js';
import { STREAM, buildPopulation } from './population.js';
import type { OneShotSpec, Scenario } from './scenario.js';
import { SimError } from './errors.js';

export type { OneShotSpec };

/** One-shot merging: every client trains once from one initialisation; the models are merged once. */
export interface OneShotRow {
  readonly method: string;
  readonly accuracy: number;
  readonly loss: number | null;
}

export interface OneShotResult {
  readonly rows: readonly OneShotRow[];
  /** Plain averaging against weight matching then averaging, for two models from different initialisations. */
  readonly differentInit: { readonly average: number; readonly weightMatching: number; readonly models: readonly number[] } | null;
  readonly wall_time_s: number;
}

/**
 * Trains each client's model from the same initialisation on its own data, then merges them
 * with every method and evaluates each merge, the individual models and their ensemble
 * (mean of softmax outputs) on the test set.
 */
export async function runOneShot(s: Scenario, spec: OneShotSpec, task: Task): Promise<OneShotResult> {
  // Weight matching permutes the MLP's hidden units; the other tasks have no alignment yet.
  if (task.name !== 'mlp') throw new SimError('SIM_SCENARIO', `one-shot merging with weight matching needs task mlp; ${s.run} uses ${task.name}`);
  const t0 = performance.now();
  const clients = buildPopulation(s, task);
  const local = localTrainingOf({ ...s, strategy: { kind: 'fedavg' } });
  const trainer = await tasks.createLearner(task.subnet(), { optimizer: local.optimizer, seed: s.seed, lr: s.local.lr, threads: 1 });
  try {
    const train = async (init: ParamSet, share: tasks.DataShare, seed: number): Promise<ParamSet> => {
      await trainer.setParams(init);
      await tasks.trainLocal(trainer, share, { budget: local.budget, batch: s.local.batch, lr: s.local.lr, schedule: local.schedule, seed });
      return trainer.params();
    };
    const evaluate = async (p: ParamSet) => {
      await trainer.setParams(p);
      return tasks.evaluateOn(trainer, task, s.data.testRows);
    };
    const base = task.initialParams(s.seed);
    const models: ParamSet[] = [];
    for (const c of clients) models.push(await train(base, c.share, Rng.derive(s.seed, STREAM.training, 0, c.id).nextU32()));
    const rows: OneShotRow[] = [];
    for (let i = 0; i < models.length; i++) {
      const e = await evaluate(models[i]);
      rows.push({ method: `${clients[i].name} alone`, accuracy: e.accuracy, loss: e.loss });
    }
    rows.push({ method: 'ensemble (mean of softmax)', accuracy: await ensembleAccuracy(trainer, models, task.testSet(s.data.testRows).batches()), loss: null });
    const examples = clients.map((c) => c.share.examples);
    const lambda = spec.lambda ?? 1;
    const merged: [string, ParamSet][] = [
      ['average (example-weighted)', mergeAverage(models, examples)],
      [`task arithmetic (lambda ${lambda}, mean)`, taskArithmetic(base, models, { lambda, weights: models.map(() => 1 / models.length) })],
      [`TIES (density ${spec.density ?? 0.2}, lambda ${lambda})`, ties(base, models, { density: spec.density ?? 0.2, lambda })],
      [`DARE (p ${spec.dropRate ?? 0.5}, mean)`, dare(base, models, { p: spec.dropRate ?? 0.5, seed: s.seed, lambda, weights: models.map(() => 1 / models.length) })],
      ['weight matching to the first, then average', alignedAverage(models, denseLayers(task))],
    ];
    for (const [method, p] of merged) {
      const e = await evaluate(p);
      rows.push({ method, accuracy: e.accuracy, loss: e.loss });
    }
    let differentInit: OneShotResult['differentInit'] = null;
    if (spec.differentInit) {
      // Two models from different seeds on the two halves of the training set.
      const seed = Rng.derive(s.seed, STREAM.partition, 1).nextU32();
      const halves = [task.share(2, 0, { kind: 'iid' }, seed), task.share(2, 1, { kind: 'iid' }, seed)];
      const pair = [await train(task.initialParams(s.seed + 101), halves[0], s.seed + 1), await train(task.initialParams(s.seed + 202), halves[1], s.seed + 2)];
      const alone = [(await evaluate(pair[0])).accuracy, (await evaluate(pair[1])).accuracy];
      differentInit = {
        average: (await evaluate(mergeAverage(pair))).accuracy,
        weightMatching: (await evaluate(mergeWithWeightMatching(pair[0], pair[1], denseLayers(task), { seed: s.seed }))).accuracy,
        models: alone,
      };
    }
    return { rows, differentInit, wall_time_s: (performance.now() - t0) / 1000 };
  } finally {
    await trainer.close();
  }
}

/** The MLP's dense layers in order (hidden ones, then the head): what weight matching permutes between. */
function denseLayers(task: Task): MlpLayer[] {
  return task.specs.filter((t) => t.name.endsWith('.weight')).map((t) => ({ weight: t.name, bias: t.name.replace(/\.weight$/, '.bias') }));
}

/** Every model aligned to the first by weight matching, then averaged. */
function alignedAverage(models: readonly ParamSet[], layers: readonly MlpLayer[]): ParamSet {
  return mergeAverage([models[0], ...models.slice(1).map((m) => weightMatching(models[0], m, layers).permuted)]);
}

async function ensembleAccuracy(trainer: engine.Trainer, models: readonly ParamSet[], test: Iterable<engine.FeedBatch>): Promise<number> {
  const batches = [...test];
  const logitsOf: Float32Array[][] = [];
  for (const m of models) {
    await trainer.setParams(m);
    const out: Float32Array[] = [];
    for (const b of batches) out.push(await trainer.logits(b.feeds.x.data as Float32Array, b.size));
    logitsOf.push(out);
  }
  let correct = 0;
  let count = 0;
  batches.forEach((b, bi) => {
    const y = b.feeds.y.data as BigInt64Array;
    const classes = logitsOf[0][bi].length / b.size;
    const prob = new Float64Array(classes);
    for (let r = 0; r < b.size; r++) {
      prob.fill(0);
      for (const out of logitsOf) {
        const l = out[bi].subarray(r * classes, (r + 1) * classes);
        const max = l.reduce((a, v) => Math.max(a, v), -Infinity);
        let z = 0;
        for (let k = 0; k < classes; k++) z += Math.exp(l[k] - max);
        for (let k = 0; k < classes; k++) prob[k] += Math.exp(l[k] - max) / z;
      }
      let best = 0;
      for (let k = 1; k < classes; k++) if (prob[k] > prob[best]) best = k;
      if (BigInt(best) === y[r]) correct++;
      count++;
    }
  });
  return count === 0 ? 0 : correct / count;
}
