import type { ParamSet } from '@fednode/core';
import { MergeError } from './errors.js';

/**
 * One fully connected layer of an MLP, PyTorch layout: `weight` is [out, in] (y = x·Wᵀ + b)
 * and `bias`, when present, is [out].
 */
export interface MlpLayer {
  readonly weight: string;
  readonly bias?: string;
}

/** The layers of the engine's `mlp()` graph: fc1 … fc`count`, each with weight and bias. */
export function mlpLayers(count: number, prefix = 'fc'): MlpLayer[] {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new MergeError('MERGE_ARGUMENT', `is ${count}, expected an integer >= 1`, 'count');
  }
  return Array.from({ length: count }, (_, i) => ({ weight: `${prefix}${i + 1}.weight`, bias: `${prefix}${i + 1}.bias` }));
}

/** A layer's checked sizes. */
export interface LayerShape {
  readonly out: number;
  readonly in: number;
}

/**
 * Checks `layers` against `model`: each weight 2-D, each bias [out], each layer's input the
 * previous layer's output, and no tensor named twice (it would be permuted twice).
 * Returns the shapes.
 */
export function layerShapes(model: ParamSet, layers: readonly MlpLayer[]): LayerShape[] {
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new MergeError('MERGE_ARGUMENT', 'expected at least one layer', 'layers');
  }
  const named = new Set<string>();
  const shapes: LayerShape[] = [];
  layers.forEach((layer, l) => {
    const field = `layers[${l}]`;
    for (const name of layer.bias === undefined ? [layer.weight] : [layer.weight, layer.bias]) {
      if (!model.has(name)) throw new MergeError('MERGE_LAYOUT', `the model has no tensor named "${name}"`, field);
      if (named.has(name)) throw new MergeError('MERGE_ARGUMENT', `"${name}" is named twice`, field);
      named.add(name);
    }
    const ws = model.spec(layer.weight).shape;
    if (ws.length !== 2) {
      throw new MergeError('MERGE_ARGUMENT', `"${layer.weight}" has shape [${ws.join(', ')}], expected [out, in]`, field);
    }
    const shape = { out: ws[0], in: ws[1] };
    if (layer.bias !== undefined) {
      const bs = model.spec(layer.bias).shape;
      if (bs.length !== 1 || bs[0] !== shape.out) {
        throw new MergeError('MERGE_ARGUMENT', `"${layer.bias}" has shape [${bs.join(', ')}], expected [${shape.out}]`, field);
      }
    }
    if (l > 0 && shape.in !== shapes[l - 1].out) {
      throw new MergeError(
        'MERGE_ARGUMENT',
        `"${layer.weight}" takes ${shape.in} inputs, but the previous layer has ${shapes[l - 1].out} outputs`,
        field,
      );
    }
    shapes.push(shape);
  });
  return shapes;
}

/**
 * π(model): hidden unit i of layer l becomes unit `perms[l][i]` of the input model, i.e.
 * W_l'[r, c] = W_l[perms[l][r], perms[l−1][c]] and b_l'[r] = b_l[perms[l][r]]. One permutation
 * per hidden layer (layers.length − 1); the last layer's outputs stay in place. Tensors not
 * named in `layers` are copied unchanged. Returns a new set; a pure copy, so bit-exact.
 *
 * @throws MergeError MERGE_ARGUMENT for bad layers or permutations; MERGE_LAYOUT for missing tensors.
 */
export function permuteMlp(model: ParamSet, layers: readonly MlpLayer[], perms: readonly Int32Array[]): ParamSet {
  const shapes = layerShapes(model, layers);
  if (!Array.isArray(perms) || perms.length !== layers.length - 1) {
    throw new MergeError('MERGE_ARGUMENT', `expected ${layers.length - 1} permutations, one per hidden layer`, 'perms');
  }
  perms.forEach((p, l) => expectPermutation(p, shapes[l].out, `perms[${l}]`));
  const out = model.clone();
  layers.forEach((layer, l) => {
    const { out: rows, in: cols } = shapes[l];
    const rowPerm = l < perms.length ? perms[l] : null;
    const colPerm = l > 0 ? perms[l - 1] : null;
    const src = model.tensor(layer.weight);
    const dst = out.tensor(layer.weight);
    for (let r = 0; r < rows; r++) {
      const from = (rowPerm === null ? r : rowPerm[r]) * cols;
      const to = r * cols;
      if (colPerm === null) dst.set(src.subarray(from, from + cols), to);
      else for (let c = 0; c < cols; c++) dst[to + c] = src[from + colPerm[c]];
    }
    if (layer.bias !== undefined && rowPerm !== null) {
      const bs = model.tensor(layer.bias);
      const bd = out.tensor(layer.bias);
      for (let r = 0; r < rows; r++) bd[r] = bs[rowPerm[r]];
    }
  });
  return out;
}

/** Throws MERGE_ARGUMENT unless `p` is an Int32Array holding each of 0..n−1 once. */
export function expectPermutation(p: Int32Array, n: number, field: string): void {
  if (!(p instanceof Int32Array) || p.length !== n) {
    throw new MergeError('MERGE_ARGUMENT', `expected an Int32Array of ${n} entries`, field);
  }
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = p[i];
    if (x < 0 || x >= n || seen[x] !== 0) {
      throw new MergeError('MERGE_ARGUMENT', `entry ${i} is ${x}: not a permutation of 0..${n - 1}`, field);
    }
    seen[x] = 1;
  }
}

