import type { TensorSpec } from '@fednode/core';
import { MergeError } from './errors.js';
import type { MlpLayer } from './permutation.js';
import type { PermutationGroup, PermutationSpec, PermutedAxis } from './permutation-spec.js';

/**
 * The permutation specs of fednode's model families (git re-basin): which units of each
 * layer are interchangeable, and every axis they touch. Layouts are the engine's: the image
 * models are PyTorch's ([out, in] weights, [out, in, kh, kw] kernels), the transformer's
 * linear weights are [in, out].
 */

/** An MLP's hidden layers, one group each (W_l's rows, b_l, W_{l+1}'s columns). */
export function mlpSpec(layers: readonly MlpLayer[], specs: readonly TensorSpec[]): PermutationSpec {
  const shape = (name: string): readonly number[] => shapeOf(specs, name);
  return {
    groups: layers.slice(0, -1).map((layer, l) => ({
      name: layer.weight.replace(/\.weight$/, ''),
      size: shape(layer.weight)[0],
      axes: [
        { tensor: layer.weight, axis: 0 },
        ...(layer.bias === undefined ? [] : [{ tensor: layer.bias, axis: 0 }]),
        { tensor: layers[l + 1].weight, axis: 1 },
      ],
    })),
  };
}

/**
 * The FedAvg CNN (conv1 → pool → conv2 → pool → flatten → fc1 → fc2): conv1's and conv2's
 * output channels and fc1's units. conv2's channels reach fc1 through the flatten, as blocks
 * of 7·7 columns, so fc1.weight is seen as [512, 64, 49].
 */
export function cnnSpec(specs: readonly TensorSpec[]): PermutationSpec {
  const c1 = shapeOf(specs, 'conv1.weight')[0];
  const c2 = shapeOf(specs, 'conv2.weight')[0];
  const [hidden, flat] = shapeOf(specs, 'fc1.weight');
  if (flat % c2 !== 0) throw new MergeError('MERGE_LAYOUT', `fc1.weight takes ${flat} inputs, not a multiple of conv2's ${c2} channels`, 'fc1.weight');
  return {
    views: { 'fc1.weight': [hidden, c2, flat / c2] },
    groups: [
      { name: 'conv1', size: c1, axes: [{ tensor: 'conv1.weight', axis: 0 }, { tensor: 'conv1.bias', axis: 0 }, { tensor: 'conv2.weight', axis: 1 }] },
      { name: 'conv2', size: c2, axes: [{ tensor: 'conv2.weight', axis: 0 }, { tensor: 'conv2.bias', axis: 0 }, { tensor: 'fc1.weight', axis: 1 }] },
      { name: 'fc1', size: hidden, axes: [{ tensor: 'fc1.weight', axis: 0 }, { tensor: 'fc1.bias', axis: 0 }, { tensor: 'fc2.weight', axis: 1 }] },
    ],
  };
}

export interface TransformerShape {
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
}

/**
 * The character transformer (pre-norm GPT): per block its attention heads (q, k, v columns
 * and o rows in blocks of headDim) and its feed-forward units; and the residual stream's
 * features, shared by the embeddings, every LayerNorm, every projection into or out of the
 * stream and the head. LayerNorm's mean and variance do not depend on feature order, so a
 * residual permutation keeps the function. Dense feed-forward blocks only (not MoE).
 */
export function transformerSpec(specs: readonly TensorSpec[], t: TransformerShape): PermutationSpec {
  const d = shapeOf(specs, 'tok.embedding')[1];
  const { heads: h, headDim: dh } = t;
  const views: Record<string, readonly number[]> = {};
  const residual: PermutedAxis[] = [{ tensor: 'tok.embedding', axis: 1 }, { tensor: 'pos.embedding', axis: 1 }];
  const groups: PermutationGroup[] = [];
  for (let l = 0; l < t.layers; l++) {
    const p = `blocks.${l}`;
    if (shapeOf(specs, `${p}.attn.q.weight`)[1] !== h * dh) {
      throw new MergeError('MERGE_LAYOUT', `${p}.attn.q.weight has ${shapeOf(specs, `${p}.attn.q.weight`)[1]} columns, not ${h} heads of ${dh}`, `${p}.attn.q.weight`);
    }
    const headAxes: PermutedAxis[] = [];
    for (const m of ['q', 'k', 'v']) {
      views[`${p}.attn.${m}.weight`] = [d, h, dh];
      views[`${p}.attn.${m}.bias`] = [h, dh];
      residual.push({ tensor: `${p}.attn.${m}.weight`, axis: 0 });
      headAxes.push({ tensor: `${p}.attn.${m}.weight`, axis: 1 }, { tensor: `${p}.attn.${m}.bias`, axis: 0 });
    }
    views[`${p}.attn.o.weight`] = [h, dh, d];
    headAxes.push({ tensor: `${p}.attn.o.weight`, axis: 0 });
    residual.push(
      { tensor: `${p}.attn.o.weight`, axis: 2 },
      { tensor: `${p}.attn.o.bias`, axis: 0 },
      { tensor: `${p}.ln1.weight`, axis: 0 },
      { tensor: `${p}.ln1.bias`, axis: 0 },
      { tensor: `${p}.ln2.weight`, axis: 0 },
      { tensor: `${p}.ln2.bias`, axis: 0 },
      { tensor: `${p}.ff.fc1.weight`, axis: 0 },
      { tensor: `${p}.ff.fc2.weight`, axis: 1 },
      { tensor: `${p}.ff.fc2.bias`, axis: 0 },
    );
    groups.push({ name: `${p}.heads`, size: h, axes: headAxes });
    groups.push({
      name: `${p}.ff`,
      size: shapeOf(specs, `${p}.ff.fc1.weight`)[1],
      axes: [{ tensor: `${p}.ff.fc1.weight`, axis: 1 }, { tensor: `${p}.ff.fc1.bias`, axis: 0 }, { tensor: `${p}.ff.fc2.weight`, axis: 0 }],
    });
  }
  residual.push({ tensor: 'ln_f.weight', axis: 0 }, { tensor: 'ln_f.bias', axis: 0 }, { tensor: 'head.weight', axis: 0 });
  return { views, groups: [{ name: 'residual', size: d, axes: residual }, ...groups] };
}

function shapeOf(specs: readonly TensorSpec[], name: string): readonly number[] {
  const s = specs.find((t) => t.name === name);
  if (s === undefined) throw new MergeError('MERGE_LAYOUT', `the model has no tensor named "${name}"`, name);
  return s.shape;
}
