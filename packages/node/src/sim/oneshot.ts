import { Rng } from '@fednode/kernels';
import { batches, engine, iidPartition, type Dataset, type ParamSet } from '@fednode/core';
import { dare, mergeAverage, mergeWithWeightMatching, mlpLayers, taskArithmetic, ties, weightMatching } from '@fednode/aggregator';
import { STREAM, buildPopulation } from './population.js';
import type { OneShotSpec, Scenario } from './scenario.js';

export type { OneShotSpec };
import { SimError } from './errors.js';

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
export async function runOneShot(s: Scenario, spec: OneShotSpec, data: { train: Dataset; test: Dataset }): Promise<OneShotResult> {
  if (s.model !== 'mlp') throw new SimError('SIM_SCENARIO', 'one-shot merging with weight matching needs the mlp model');
  const t0 = performance.now();
  const clients = buildPopulation(s, data.train.y);
  const trainer = await engine.Trainer.create({ model: s.model, optimizer: { kind: 'sgd', momentum: s.local.momentum ?? 0 }, seed: s.seed, lr: s.local.lr, intraOpThreads: 1 });
  try {
    const train = async (init: ParamSet, rows: Uint32Array, seed: number): Promise<ParamSet> => {
      await trainer.setParams(init);
      const steps: Promise<number>[] = [];
      for (let e = 0; e < s.local.epochs; e++) for (const b of batches(data.train, { batchSize: s.local.batch, seed, epoch: e, indices: rows })) steps.push(trainer.step(b));
      await Promise.all(steps);
      return trainer.params();
    };
    const evaluate = async (p: ParamSet) => {
      await trainer.setParams(p);
      return trainer.evaluate(data.test);
    };
    const base = await trainer.params();
    const models: ParamSet[] = [];
    for (const c of clients) models.push(await train(base, c.rows, Rng.derive(s.seed, STREAM.training, 0, c.id).nextU32()));
    const rows: OneShotRow[] = [];
    for (let i = 0; i < models.length; i++) {
      const e = await evaluate(models[i]);
      rows.push({ method: `${clients[i].name} alone`, accuracy: e.accuracy, loss: e.loss });
    }
    rows.push({ method: 'ensemble (mean of softmax)', accuracy: await ensembleAccuracy(trainer, models, data.test), loss: null });
    const examples = clients.map((c) => c.rows.length);
    const lambda = spec.lambda ?? 1;
    const merged: [string, ParamSet][] = [
      ['average (example-weighted)', mergeAverage(models, examples)],
      [`task arithmetic (lambda ${lambda}, mean)`, taskArithmetic(base, models, { lambda, weights: models.map(() => 1 / models.length) })],
      [`TIES (density ${spec.density ?? 0.2}, lambda ${lambda})`, ties(base, models, { density: spec.density ?? 0.2, lambda })],
      [`DARE (p ${spec.dropRate ?? 0.5}, mean)`, dare(base, models, { p: spec.dropRate ?? 0.5, seed: s.seed, lambda, weights: models.map(() => 1 / models.length) })],
      ['weight matching to the first, then average', alignedAverage(models)],
    ];
    for (const [method, p] of merged) {
      const e = await evaluate(p);
      rows.push({ method, accuracy: e.accuracy, loss: e.loss });
    }
    let differentInit: OneShotResult['differentInit'] = null;
    if (spec.differentInit) {
      // Two models from different seeds on the two halves of the training set.
      const halves = iidPartition(data.train.count, 2, Rng.derive(s.seed, STREAM.partition, 1).nextU32());
      const inits = [await initFrom(s.seed + 101), await initFrom(s.seed + 202)];
      const pair = [await train(inits[0], halves[0], s.seed + 1), await train(inits[1], halves[1], s.seed + 2)];
      const alone = [(await evaluate(pair[0])).accuracy, (await evaluate(pair[1])).accuracy];
      differentInit = {
        average: (await evaluate(mergeAverage(pair))).accuracy,
        weightMatching: (await evaluate(mergeWithWeightMatching(pair[0], pair[1], mlpLayers(3), { seed: s.seed }))).accuracy,
        models: alone,
      };
    }
    return { rows, differentInit, wall_time_s: (performance.now() - t0) / 1000 };
  } finally {
    await trainer.close();
  }

  async function initFrom(seed: number): Promise<ParamSet> {
    // runOneShot refused every model but the mlp above; a nested function does not keep that narrowing.
    const t = await engine.Trainer.create({ model: 'mlp', optimizer: { kind: 'sgd' }, seed, lr: s.local.lr, intraOpThreads: 1 });
    try {
      return await t.params();
    } finally {
      await t.close();
    }
  }
}

/** Every model aligned to the first by weight matching, then averaged. */
function alignedAverage(models: readonly ParamSet[]): ParamSet {
  const layers = mlpLayers(3);
  return mergeAverage([models[0], ...models.slice(1).map((m) => weightMatching(models[0], m, layers).permuted)]);
}

async function ensembleAccuracy(trainer: engine.Trainer, models: readonly ParamSet[], test: Dataset): Promise<number> {
  const classes = test.classes;
  const prob = new Float64Array(test.count * classes);
  for (const m of models) {
    await trainer.setParams(m);
    const logits = await trainer.logits(test.x, test.count);
    for (let r = 0; r < test.count; r++) {
      let max = -Infinity;
      for (let k = 0; k < classes; k++) max = Math.max(max, logits[r * classes + k]);
      let z = 0;
      for (let k = 0; k < classes; k++) z += Math.exp(logits[r * classes + k] - max);
      for (let k = 0; k < classes; k++) prob[r * classes + k] += Math.exp(logits[r * classes + k] - max) / z;
    }
  }
  let correct = 0;
  for (let r = 0; r < test.count; r++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (prob[r * classes + k] > prob[r * classes + best]) best = k;
    if (best === test.y[r]) correct++;
  }
  return correct / test.count;
}
