import { assembleExperts } from '@fednode/aggregator';
import { engine, models, tasks, type ParamSet, type Task } from '@fednode/core';
import { Rng, adamwStep } from '@fednode/kernels';
import { speakerShare } from './era-shares.js';
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
  /** Whether each batch came from one expert's domain with a routing loss (the inputs named their speakers). */
  readonly domainRouted: boolean;
}

export interface ExpertMixture {
  readonly merged: MergeTask;
  readonly params: ParamSet;
  readonly router: RouterTraining;
}

/**
 * Router defaults: a few hundred AdamW steps at a rate that moves a 0.02-scale init quickly.
 * Every token mixes all the experts (topK: the number of inputs, unless given): the routers
 * cannot tell a 64-character window's era (docs/merging.md), and a top-2 pick on so weak a
 * signal lost to the specialists' average, while the soft mixture beats it.
 */
export const ROUTER_DEFAULTS = { steps: 200, batch: 16, lr: 0.01 } as const;

/** Metadata key of the speakers a text checkpoint was trained on (a JSON list of names). */
export const META_SPEAKERS = 'fednode.speakers';

/**
 * Each specialist's speakers when every input's metadata says them (fednode's era
 * specialists do), else null: the router then learns from the language-model loss alone.
 */
export function domainsOf(metadata: readonly Readonly<Record<string, string>>[]): string[][] | null {
  const lists = metadata.map((m) => m[META_SPEAKERS]);
  if (lists.some((l) => l === undefined)) return null;
  return lists.map((l, i) => {
    const v: unknown = JSON.parse(l!);
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new MergeCommandError(`input ${i + 1}: metadata ${META_SPEAKERS} is not a list of names`);
    return v as string[];
  });
}

/** The mixture task whose experts are `experts` copies of the dense transformer's feed-forward blocks, each token mixing `topK`. */
export function mixtureTask(dense: MergeTask, experts: number, topK: number): MergeTask {
  if (dense.task.name !== 'transformer') throw new MergeCommandError(`--method moe assembles dense transformer specialists; these are checkpoints of ${dense.task.name}`);
  const shape = transformerShapeOf(dense.task);
  if (topK > experts) throw new MergeCommandError(`topK ${topK} exceeds the ${experts} experts`);
  const model = { ...dense.model, seqLen: shape.seqLen, dModel: shape.dModel, heads: shape.heads, headDim: shape.headDim, ffDim: shape.ffDim, layers: shape.layers, experts, topK, expertFfDim: shape.ffDim };
  try {
    return { task: tasks.createTask('moe-transformer', { dataset: dense.task.dataset, model }), model };
  } catch (e) {
    throw new MergeCommandError(`cannot build the mixture: ${(e as Error).message}`);
  }
}

export async function assembleMixture(
  dense: MergeTask,
  specialists: readonly ParamSet[],
  domains: readonly (readonly string[])[] | null,
  o: MethodOptions,
  threads: number,
  progress: Progress,
  signal?: AbortSignal,
): Promise<ExpertMixture> {
  const { task, model } = mixtureTask(dense, specialists.length, typeof o.topK === 'number' ? o.topK : specialists.length);
  const seed = typeof o.seed === 'number' ? o.seed : 0;
  const assembled = assembleExperts(specialists, task.specs, { seed });
  progress(`assembled ${specialists.length} experts into ${task.name} (top-${model.topK}); training the routers`);
  const { params, router } = await trainRouters(task, assembled, {
    steps: typeof o.routerSteps === 'number' ? o.routerSteps : ROUTER_DEFAULTS.steps,
    batch: typeof o.routerBatch === 'number' ? o.routerBatch : ROUTER_DEFAULTS.batch,
    lr: typeof o.routerLr === 'number' ? o.routerLr : ROUTER_DEFAULTS.lr,
    seed,
    threads,
    progress,
    domains: domains === null ? null : domains.map((d) => speakerShare(task, d)),
    ...(signal === undefined ? {} : { signal }),
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
  /** Expert e's own data, when known: each batch comes from one domain and also trains the routers to send its tokens to that domain's expert. */
  readonly domains: readonly tasks.DataShare[] | null;
  /** Stops the training between steps (rejecting with its reason). */
  readonly signal?: AbortSignal;
}

/** The mixture's full configuration (vocabulary and experts included), to rebuild its graph with a routing loss. */
function moeConfigOf(task: Task): models.TransformerConfig {
  const c = (task as Task & { readonly config?: models.TransformerConfig }).config;
  if (c === undefined || c.moe === undefined) throw new MergeCommandError(`task ${task.name} is not a mixture of experts`);
  return c;
}

/**
 * The mixture's graph whose loss adds, per MoE layer, the cross-entropy of the router's
 * probabilities against each token's domain (input `domain` [N, T]): the routers learn to
 * send a domain's text to the expert trained on it, as with domain-routed mixtures (DEMix).
 */
function domainRoutedModel(c: models.TransformerConfig): engine.TrainableModel {
  const m = models.transformerLM(c);
  const g = m.graph;
  const domain = g.input('domain', [engine.BATCH, c.seqLen], 'int64');
  const experts = c.moe!.experts;
  let loss = m.loss;
  for (const layer of m.moeLayers) {
    // log(p + 1e-6): a probability that underflows to 0 must not make the loss infinite.
    const logp = engine.log(engine.add(layer.probs, g.scalar(1e-6)));
    loss = engine.add(loss, engine.softmaxCrossEntropy(engine.reshape(logp, [-1, experts]), engine.reshape(domain, [-1])));
  }
  return { graph: g, loss, evaluation: models.lmEvalOutputs(m) };
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
    const domains = o.domains;
    const trainer =
      domains === null
        ? await tasks.createLearner(task.subnet(), { optimizer: { kind: 'adamw', weightDecay: 0 }, lr: o.lr, seed: o.seed, returnGradients: true, threads: o.threads })
        : await engine.Trainer.create({ model: () => domainRoutedModel(moeConfigOf(task)), optimizer: { kind: 'adamw', weightDecay: 0 }, lr: o.lr, seed: o.seed, returnGradients: true, intraOpThreads: o.threads });
    try {
      for (const [step, batch] of routerBatches(task, o).entries()) {
        o.signal?.throwIfAborted();
        await trainer.setParams(params);
        const { loss, grads } = await trainer.gradients(batch);
        for (const r of moments) adamwStep(params.tensor(r.name), grads.tensor(r.name), r.m, r.v, { lr: o.lr, weightDecay: 0, step: step + 1 });
        losses.push(loss);
        if ((step + 1) % 20 === 0 || step + 1 === o.steps) o.progress(`router training: step ${step + 1}/${o.steps}, loss ${loss.toFixed(4)}`);
      }
    } finally {
      await trainer.close();
    }
  }
  const tenth = Math.max(1, Math.floor(losses.length / 10));
  const mean = (xs: number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    params,
    router: { steps: o.steps, batch: o.batch, lr: o.lr, examples: o.steps * o.batch, firstLoss: mean(losses.slice(0, tenth)), lastLoss: mean(losses.slice(-tenth)), domainRouted: o.domains !== null },
  };
}

/**
 * The router's mixed set: `steps` batches drawn from all the task's training text, or, with
 * domains, windows each from one domain picked in proportion to its size, with its tokens'
 * domain fed. Every batch mixes domains, so that no step pushes all its tokens towards one
 * expert (the routing loss of a one-domain batch is minimised by that expert for every token).
 */
function routerBatches(task: Task, o: RouterOptions): engine.FeedBatch[] {
  if (o.domains === null) return [...task.share(1, null, { kind: 'iid' }, o.seed).draw(o.batch, o.seed, o.steps)];
  const domains = o.domains;
  const total = domains.reduce((n, d) => n + d.examples, 0);
  const rng = Rng.derive(o.seed, 4);
  const picks = Array.from({ length: o.steps * o.batch }, () => {
    let u = rng.uniform() * total;
    let e = 0;
    while (e < domains.length - 1 && u >= domains[e].examples) u -= domains[e++].examples;
    return e;
  });
  // One window at a time from each domain's own stream, then cut into batches.
  const streams = domains.map((d, e) => d.draw(1, Rng.derive(o.seed, 5, e).nextU32(), picks.filter((p) => p === e).length)[Symbol.iterator]());
  const windows = picks.map((e) => ({ e, b: streams[e].next().value as engine.FeedBatch }));
  const t = windows.length === 0 ? 0 : windows[0].b.feeds.x.dims[1];
  return Array.from({ length: o.steps }, (_, s) => {
    const part = windows.slice(s * o.batch, (s + 1) * o.batch);
    const x = new BigInt64Array(o.batch * t);
    const y = new BigInt64Array(o.batch * t);
    const domain = new BigInt64Array(o.batch * t);
    part.forEach(({ e, b }, i) => {
      x.set(b.feeds.x.data as BigInt64Array, i * t);
      y.set(b.feeds.y.data as BigInt64Array, i * t);
      domain.fill(BigInt(e), i * t, (i + 1) * t);
    });
    const dims = [o.batch, t];
    return { size: o.batch, feeds: { x: { dtype: 'int64', dims, data: x }, y: { dtype: 'int64', dims, data: y }, domain: { dtype: 'int64', dims, data: domain } } };
  });
}
