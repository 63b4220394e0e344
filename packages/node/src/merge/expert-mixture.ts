import { assembleExperts } from '@fednode/aggregator';
import { tasks, type ParamSet, type Task } from '@fednode/core';
import { adamwStep } from '@fednode/kernels';
import { MergeCommandError } from './errors.js';
import type { Progress } from './methods.js';
import type { MethodOptions } from './recipe.js';
import { transformerShapeOf, type MergeTask } from './task-of.js';

/**
 * `fednode merge --method moe`, Branch-Train-MiX: dense transformer specialists (trained
 * separately from one dense base, e.g. one per group of presidents) become the experts of a
 * mixture-of-experts transformer. The shared layers are averaged and each block's router is
 * then trained briefly on a mixed sample of every specialist's data, everything else frozen:
 * the router is the one part no specialist could train.
 */

export interface RouterTraining {
  readonly steps: number;
  readonly batch: number;
  readonly lr: number;
  /** Training windows the router saw (steps × batch): the "small mixed set". */
  readonly examples: number;
  /** Mean training loss of the first and the last tenth of the steps (null with no steps). */
  readonly firstLoss: number | null;
  readonly lastLoss: number | null;
}

export interface ExpertMixture {
  readonly merged: MergeTask;
  readonly params: ParamSet;
  readonly router: RouterTraining;
}

/** Router defaults: a few hundred AdamW steps at a rate that moves a 0.02-scale init quickly. */
export const ROUTER_DEFAULTS = { steps: 200, batch: 16, lr: 0.01, topK: 2 } as const;

export async function assembleMixture(dense: MergeTask, specialists: readonly ParamSet[], o: MethodOptions, threads: number, progress: Progress): Promise<ExpertMixture> {
  if (dense.task.name !== 'transformer') throw new MergeCommandError(`--method moe assembles dense transformer specialists; these are checkpoints of ${dense.task.name}`);
  const shape = transformerShapeOf(dense.task);
  const topK = typeof o.topK === 'number' ? o.topK : ROUTER_DEFAULTS.topK;
  if (topK > specialists.length) throw new MergeCommandError(`topK ${topK} exceeds the ${specialists.length} experts`);
  const model = { ...dense.model, seqLen: shape.seqLen, dModel: shape.dModel, heads: shape.heads, headDim: shape.headDim, ffDim: shape.ffDim, layers: shape.layers, experts: specialists.length, topK, expertFfDim: shape.ffDim };
  let task: Task;
  try {
    task = tasks.createTask('moe-transformer', { dataset: dense.task.dataset, model });
  } catch (e) {
    throw new MergeCommandError(`cannot build the mixture: ${(e as Error).message}`);
  }
  const seed = typeof o.seed === 'number' ? o.seed : 0;
  const assembled = assembleExperts(specialists, task.specs, { seed });
  progress(`assembled ${specialists.length} experts into ${task.name} (top-${topK}); training the routers`);
  const { params, router } = await trainRouters(task, assembled, {
    steps: typeof o.routerSteps === 'number' ? o.routerSteps : ROUTER_DEFAULTS.steps,
    batch: typeof o.routerBatch === 'number' ? o.routerBatch : ROUTER_DEFAULTS.batch,
    lr: typeof o.routerLr === 'number' ? o.routerLr : ROUTER_DEFAULTS.lr,
    seed,
    threads,
    progress,
  });
  return { merged: { task, model }, params, router };
}

interface RouterOptions {
  readonly steps: number;
  readonly batch: number;
  readonly lr: number;
  readonly seed: number;
  readonly threads: number;
  readonly progress: Progress;
}

/**
 * Trains only the `*.router.weight` tensors with AdamW (no weight decay) on draws from all
 * of the task's training data; the rest of the model stays as assembled. The engine
 * computes full gradients; the router's are applied here, so nothing else can move.
 */
export async function trainRouters(task: Task, start: ParamSet, o: RouterOptions): Promise<{ params: ParamSet; router: RouterTraining }> {
  const params = start.clone();
  const routers = params.specs.filter((s) => s.name.endsWith('.router.weight')).map((s) => s.name);
  if (routers.length === 0) throw new MergeCommandError(`${task.name} has no router to train`);
  const moments = routers.map((n) => ({ name: n, m: new Float32Array(params.tensor(n).length), v: new Float32Array(params.tensor(n).length) }));
  const losses: number[] = [];
  if (o.steps > 0) {
    const trainer = await tasks.createLearner(task.subnet(), { optimizer: { kind: 'adamw', weightDecay: 0 }, lr: o.lr, seed: o.seed, returnGradients: true, threads: o.threads });
    try {
      const mixed = task.share(1, null, { kind: 'iid' }, o.seed);
      let step = 0;
      for (const batch of mixed.draw(o.batch, o.seed, o.steps)) {
        await trainer.setParams(params);
        const { loss, grads } = await trainer.gradients(batch);
        step++;
        for (const r of moments) adamwStep(params.tensor(r.name), grads.tensor(r.name), r.m, r.v, { lr: o.lr, weightDecay: 0, step });
        losses.push(loss);
        if (step % 20 === 0 || step === o.steps) o.progress(`router training: step ${step}/${o.steps}, loss ${loss.toFixed(4)}`);
      }
    } finally {
      await trainer.close();
    }
  }
  const tenth = Math.max(1, Math.floor(losses.length / 10));
  const mean = (xs: number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    params,
    router: { steps: o.steps, batch: o.batch, lr: o.lr, examples: o.steps * o.batch, firstLoss: mean(losses.slice(0, tenth)), lastLoss: mean(losses.slice(-tenth)) },
  };
}
