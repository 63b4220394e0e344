import {
  BATCH,
  Graph,
  gemm,
  logSoftmax,
  mul,
  reduceMean,
  reduceSum,
  relu,
  softmaxCrossEntropy,
  type FloatType,
  type Value,
} from '../engine/index.js';
import type { Slice, TensorSlice } from '../slice/slice.js';
import { ModelError, expectPosInt } from './errors.js';
import { HETEROFL, selectUnits, unitsFor, type WidthSelection } from './widths.js';

/**
 * The MLP supernet inputs-h-…-h-classes (784-200-200-10 by default) with elastic width (every
 * hidden layer keeps ⌈h·r⌉ units) and elastic depth (the first `depth` hidden layers, then the
 * classifier). Weights are PyTorch-style [out, in]:
 *   fc{i}.weight [h, in], fc{i}.bias [h] for hidden layer i = 1..depth; head.weight [classes, h], head.bias [classes].
 * The classifier keeps its name whatever the depth, so every depth shares it.
 */
export interface MlpSupernetConfig {
  inputs: number;
  hidden: number;
  /** Hidden layers of the full network. */
  depth: number;
  classes: number;
}

export const MNIST_MLP_SUPERNET: MlpSupernetConfig = Object.freeze({ inputs: 784, hidden: 200, depth: 2, classes: 10 });

/** A sub-network: width ratio in (0, 1] and the number of hidden layers (default all). */
export interface MlpSubnet {
  width: number;
  depth?: number;
}

export interface MlpModel {
  readonly graph: Graph;
  readonly x: Value;
  readonly y: Value;
  readonly logits: Value;
  /** Hard-label cross-entropy, or with `distill` the cross-entropy against the `teacher` probabilities. */
  readonly loss: Value;
  /** Teacher probabilities [N, classes] (in-place distillation), or null. */
  readonly teacher: Value | null;
}

function checkConfig(c: MlpSupernetConfig): void {
  for (const k of ['inputs', 'hidden', 'depth', 'classes'] as const) expectPosInt(`mlp.${k}`, c[k]);
}

function depthOf(c: MlpSupernetConfig, sub: MlpSubnet): number {
  const d = sub.depth ?? c.depth;
  if (!Number.isInteger(d) || d < 1 || d > c.depth) throw new ModelError('MODEL_SLICE', `depth ${d} is not in [1, ${c.depth}]`);
  return d;
}

/** Hidden widths of a sub-network. */
export function mlpSubnetWidths(c: MlpSupernetConfig, sub: MlpSubnet): number[] {
  checkConfig(c);
  const k = unitsFor(c.hidden, sub.width);
  return Array.from({ length: depthOf(c, sub) }, () => k);
}

/**
 * The graph of a sub-network (the full network for width 1 and full depth). Initialisation
 * follows PyTorch's Linear (uniform ±1/sqrt(fan_in) of the FULL network's fan-in, so a
 * sub-network initialised alone starts like its slice of the supernet).
 */
export function mlpSupernetModel(c: MlpSupernetConfig, sub: MlpSubnet = { width: 1 }, opts: { dtype?: FloatType; distill?: boolean; batch?: number | string } = {}): MlpModel {
  const widths = mlpSubnetWidths(c, sub);
  const g = new Graph({ dtype: opts.dtype ?? 'float32', name: 'mlp-supernet' });
  const n = opts.batch ?? BATCH;
  const x = g.input('x', [n, c.inputs]);
  const y = g.input('y', [n], 'int64');
  const layer = (name: string, v: Value, inDim: number, outDim: number, fullIn: number): Value => {
    const bound = 1 / Math.sqrt(fullIn);
    const w = g.param(`${name}.weight`, [outDim, inDim], { kind: 'uniform', limit: bound });
    const b = g.param(`${name}.bias`, [outDim], { kind: 'uniform', limit: bound });
    return gemm(v, w, b, { transB: true });
  };
  let h = x;
  let width = c.inputs;
  widths.forEach((k, i) => {
    h = relu(layer(`fc${i + 1}`, h, width, k, i === 0 ? c.inputs : c.hidden));
    width = k;
  });
  const logits = layer('head', h, width, c.classes, c.hidden);
  if (opts.distill !== true) return { graph: g, x, y, logits, loss: softmaxCrossEntropy(logits, y), teacher: null };
  const teacher = g.input('teacher', [n, c.classes]);
  // Soft cross-entropy −mean_n Σ_c t·log softmax(z); the teacher is an input, so no gradient reaches it.
  const soft = reduceMean(reduceSum(mul(teacher, logSoftmax(logits, -1)), [1]));
  return { graph: g, x, y, logits, loss: mul(soft, g.scalar(-1)), teacher };
}

/** Parameter names and shapes of the full supernet. */
export function mlpSupernetSpecs(c: MlpSupernetConfig): { name: string; shape: number[] }[] {
  checkConfig(c);
  const specs: { name: string; shape: number[] }[] = [];
  let width = c.inputs;
  for (let i = 1; i <= c.depth; i++) {
    specs.push({ name: `fc${i}.weight`, shape: [c.hidden, width] }, { name: `fc${i}.bias`, shape: [c.hidden] });
    width = c.hidden;
  }
  specs.push({ name: 'head.weight', shape: [c.classes, c.hidden] }, { name: 'head.bias', shape: [c.classes] });
  return specs;
}

/**
 * The slice of a sub-network (spec 6): each hidden layer's output units are selected (leading
 * or rolling), its input units are the previous layer's outputs (the first layer takes every
 * input), biases follow their outputs, and the classifier keeps every output. Hidden layers
 * past the depth are not held.
 */
export function mlpSubnetSlice(c: MlpSupernetConfig, sub: MlpSubnet, sel: WidthSelection = HETEROFL): Slice {
  const widths = mlpSubnetWidths(c, sub);
  const tensors: TensorSlice[] = [];
  let prev = selectUnits(c.inputs, c.inputs, sel); // all inputs
  widths.forEach((k, i) => {
    const out = selectUnits(c.hidden, k, sel);
    tensors.push({ name: `fc${i + 1}.weight`, axes: [out, prev] }, { name: `fc${i + 1}.bias`, axes: [out] });
    prev = out;
  });
  tensors.push({ name: 'head.weight', axes: [{ kind: 'all' }, prev] }, { name: 'head.bias', axes: [{ kind: 'all' }] });
  return { tensors };
}

/** A sub-network of the MLP supernet: its slice of the full parameters and its graph builder. */
export interface MlpSubnetwork {
  readonly widths: readonly number[];
  readonly slice: Slice;
  build(opts?: { dtype?: FloatType; distill?: boolean; batch?: number | string }): MlpModel;
}

export function mlpSubnetwork(c: MlpSupernetConfig, sub: MlpSubnet, sel: WidthSelection = HETEROFL): MlpSubnetwork {
  return { widths: mlpSubnetWidths(c, sub), slice: mlpSubnetSlice(c, sub, sel), build: (opts) => mlpSupernetModel(c, sub, opts) };
}
