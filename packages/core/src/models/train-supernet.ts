import type * as ort from 'onnxruntime-node';
import { Rng } from '@fednode/kernels';
import { attr, createSession, gradients, initParams, runSession, toTensor, type Value } from '../engine/index.js';
import { resolveSlice, type ResolvedSlice } from '../slice/slice.js';
import { ParamSet } from '../tensor/paramset.js';
import { ModelError } from './errors.js';
import { mlpSubnetSlice, mlpSupernetModel, mlpSupernetSpecs, type MlpSubnet, type MlpSupernetConfig } from './mlp-supernet.js';
import { correctCount } from './nodes.js';
import { sandwichWidths } from './sandwich.js';
import { unitsFor } from './widths.js';

/**
 * Local training of the MLP supernet. Each step runs one or more sub-networks on the same
 * batch, each as its own onnxruntime graph over its local (sliced) parameters returning the
 * loss and the local gradients; the gradients are added into the full model's gradient through
 * the slices' index maps, then one SGD-momentum step updates the supernet. With the sandwich
 * rule (spec 6) the sub-networks are max, min and n − 2 random widths; with in-place
 * distillation the max network learns from the labels and the others from its (detached)
 * softmax. The `fixed` rule trains one width alone: the baseline of the acceptance check.
 */

/** Rows of `features` floats with a label each (the data module's Dataset fits). */
export interface LabelledRows {
  readonly x: Float32Array;
  readonly y: Uint8Array;
  readonly count: number;
  readonly features: number;
}

export type SupernetRule = { kind: 'sandwich'; n: number; min: number; max?: number; distill?: boolean } | { kind: 'fixed'; width: number };

export interface SupernetTrainOptions {
  config: MlpSupernetConfig;
  train: LabelledRows;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum?: number;
  weightDecay?: number;
  seed: number;
  rule: SupernetRule;
  threads?: number;
  onLog?: (line: string) => void;
}

export interface SupernetTrainReport {
  readonly params: ParamSet;
  readonly steps: number;
  readonly seconds: number;
  /** Sub-network runs (forward + backward) done. */
  readonly subnetRuns: number;
}

interface SubnetSession {
  readonly session: ort.InferenceSession;
  readonly resolved: ResolvedSlice;
  readonly local: Map<string, Float32Array>;
}

/** Copies a slice of the global parameters into per-tensor arrays (one ort tensor each). */
function extractLocal(global: ParamSet, resolved: ResolvedSlice, into: Map<string, Float32Array>): void {
  for (const t of resolved.tensors) {
    const g = global.tensor(t.name);
    let l = into.get(t.name);
    if (l === undefined) {
      l = new Float32Array(t.indexMap.length);
      into.set(t.name, l);
    }
    const map = t.indexMap;
    for (let i = 0; i < map.length; i++) l[i] = g[map[i]];
  }
}

function localDims(resolved: ResolvedSlice, name: string): number[] {
  const t = resolved.tensors.find((r) => r.name === name);
  if (t === undefined) throw new ModelError('MODEL_SLICE', `the slice holds no ${name}`);
  return [...t.localShape];
}

/** The supernet's initial parameters (PyTorch Linear init, seeded). */
export function initMlpSupernet(config: MlpSupernetConfig, seed: number): ParamSet {
  const g = mlpSupernetModel(config).graph;
  const rng = Rng.derive(seed, 0);
  const init = initParams(g, () => rng.uniform());
  return ParamSet.fromTensors(mlpSupernetSpecs(config).map((s) => ({ ...s, data: init.get(s.name)! })));
}

export async function trainMlpSupernet(o: SupernetTrainOptions, init?: ParamSet): Promise<SupernetTrainReport> {
  const { config } = o;
  if (!Number.isInteger(o.epochs) || o.epochs < 1 || !Number.isInteger(o.batchSize) || o.batchSize < 1) {
    throw new ModelError('MODEL_TRAIN', `epochs ${o.epochs} and batchSize ${o.batchSize} must be positive integers`);
  }
  if (o.train.features !== config.inputs) throw new ModelError('MODEL_TRAIN', `data has ${o.train.features} features, the model ${config.inputs} inputs`);
  const specs = mlpSupernetSpecs(config);
  const params = init?.clone() ?? initMlpSupernet(config, o.seed);
  const grad = params.zerosLike();
  const velocity = params.zerosLike();
  const momentum = o.momentum ?? 0.9;
  const wd = o.weightDecay ?? 0;
  const log = o.onLog ?? (() => {});
  const sessions = new Map<string, SubnetSession>();

  const subnet = async (k: number, distill: boolean): Promise<SubnetSession> => {
    const key = `${k}:${distill}`;
    let s = sessions.get(key);
    if (s === undefined) {
      const sub: MlpSubnet = { width: k / config.hidden };
      const m = mlpSupernetModel(config, sub, { distill });
      const grads = gradients(m.loss, m.graph.params);
      const probs = m.graph.emit1('Softmax', [m.logits], { axis: attr.int(-1) }, m.logits.dtype, m.logits.shape);
      const outputs: [string, Value][] = [
        ['loss', m.loss],
        ['probs', probs],
      ];
      grads.forEach((d, i) => {
        if (d === null) throw new ModelError('MODEL_TRAIN', `no gradient reaches ${m.graph.params[i].name}`);
        outputs.push([`grad.${m.graph.params[i].name}`, d]);
      });
      const session = await createSession(m.graph.toModel({ outputs }).bytes, { intraOpThreads: o.threads ?? 2 });
      s = { session, resolved: resolveSlice(mlpSubnetSlice(config, sub), specs), local: new Map() };
      sessions.set(key, s);
    }
    return s;
  };

  const n = o.train.count;
  const f = o.train.features;
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  let steps = 0;
  let runs = 0;
  const t0 = performance.now();
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    Rng.derive(o.seed, 1, epoch).shuffle(order);
    let lossSum = 0;
    let lossCount = 0;
    for (let start = 0; start < n; start += o.batchSize) {
      const b = Math.min(o.batchSize, n - start);
      const x = new Float32Array(b * f);
      const y = new BigInt64Array(b);
      for (let i = 0; i < b; i++) {
        const r = order[start + i];
        x.set(o.train.x.subarray(r * f, r * f + f), i * f);
        y[i] = BigInt(o.train.y[r]);
      }
      const feedsBase = { x: toTensor('float32', x, [b, f]), y: toTensor('int64', y, [b]) };
      const widths = o.rule.kind === 'sandwich' ? sandwichWidths(steps, { n: o.rule.n, min: o.rule.min, max: o.rule.max, seed: o.seed }) : [o.rule.width];
      const distill = o.rule.kind === 'sandwich' && o.rule.distill === true;
      grad.data.fill(0);
      let teacher: ort.Tensor | null = null;
      for (const [j, r] of widths.entries()) {
        const useTeacher = distill && j > 0 && teacher !== null;
        const s = await subnet(unitsFor(config.hidden, r), useTeacher);
        extractLocal(params, s.resolved, s.local);
        const feeds: Record<string, ort.Tensor> = { ...feedsBase };
        for (const [name, data] of s.local) feeds[name] = toTensor('float32', data, localDims(s.resolved, name));
        if (useTeacher && teacher !== null) feeds.teacher = teacher;
        const out = await runSession(s.session, feeds);
        runs++;
        if (j === 0) {
          teacher = out.probs;
          lossSum += (out.loss.data as Float32Array)[0] * b;
          lossCount += b;
        }
        for (const t of s.resolved.tensors) {
          const gl = out[`grad.${t.name}`].data as Float32Array;
          const gg = grad.tensor(t.name);
          const map = t.indexMap;
          for (let i = 0; i < map.length; i++) gg[map[i]] += gl[i];
        }
      }
      // SGD with momentum (PyTorch form) on the whole supernet; untouched elements have zero gradient.
      const p = params.data;
      const v = velocity.data;
      const gd = grad.data;
      for (let i = 0; i < p.length; i++) {
        const d = gd[i] + wd * p[i];
        v[i] = momentum * v[i] + d;
        p[i] -= o.lr * v[i];
      }
      steps++;
    }
    log(`epoch ${epoch + 1}: loss (first width) ${(lossSum / lossCount).toFixed(4)}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  for (const s of sessions.values()) await s.session.release();
  return { params, steps, seconds: (performance.now() - t0) / 1000, subnetRuns: runs };
}

/** Accuracy and mean loss of one sub-network of the supernet on labelled rows. */
export async function evaluateMlpSubnet(
  config: MlpSupernetConfig,
  params: ParamSet,
  sub: MlpSubnet,
  data: LabelledRows,
  opts: { batchSize?: number; threads?: number } = {},
): Promise<{ accuracy: number; loss: number }> {
  const m = mlpSupernetModel(config, sub);
  const correct = correctCount(m.logits, m.y);
  const session = await createSession(m.graph.toModel({ outputs: [['loss', m.loss], ['correct', correct]] }).bytes, { intraOpThreads: opts.threads ?? 2 });
  const resolved = resolveSlice(mlpSubnetSlice(config, sub), mlpSupernetSpecs(config));
  const local = new Map<string, Float32Array>();
  extractLocal(params, resolved, local);
  const pfeeds: Record<string, ort.Tensor> = {};
  for (const [name, d] of local) pfeeds[name] = toTensor('float32', d, localDims(resolved, name));
  const bs = opts.batchSize ?? 1000;
  const f = data.features;
  let hits = 0;
  let lossSum = 0;
  for (let s = 0; s < data.count; s += bs) {
    const b = Math.min(bs, data.count - s);
    const y = new BigInt64Array(b);
    for (let i = 0; i < b; i++) y[i] = BigInt(data.y[s + i]);
    const out = await runSession(session, { ...pfeeds, x: toTensor('float32', data.x.slice(s * f, (s + b) * f), [b, f]), y: toTensor('int64', y, [b]) });
    hits += (out.correct.data as Float32Array)[0];
    lossSum += (out.loss.data as Float32Array)[0] * b;
  }
  await session.release();
  return { accuracy: hits / data.count, loss: lossSum / data.count };
}
