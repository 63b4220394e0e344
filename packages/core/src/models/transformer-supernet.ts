import type { AxisSelection, Slice, TensorSlice } from '../slice/slice.js';
import { ModelError } from './errors.js';
import { transformerLM, type TransformerConfig, type TransformerModel, type TransformerOptions } from './transformer.js';
import { HETEROFL, headIndices, indexSelection, selectUnits, unitsFor, type WidthSelection } from './widths.js';

/**
 * Sub-networks of a transformer supernet and of a mixture of experts, as `Slice`s of the full
 * model's parameters plus the config of the smaller model they form.
 *
 * Elastic dimensions: the width ratio r keeps ⌈headDim·r⌉ dims of EACH head in q/k/v (and the
 * matching rows of the output projection) and ⌈ffDim·r⌉ feed-forward units (per expert for a
 * MoE); `heads` keeps the first heads; `depth` the first blocks. The residual width dModel, the
 * embeddings, LayerNorms and the head stay whole, so every sub-network reads and writes the same
 * residual stream. Sub-networks keep the full head size in the attention scale (attnScaleDim),
 * so a narrowed head computes the partial dot products of the full one.
 *
 * Experts: `experts` keeps the trunk plus those experts (ascending ids; local expert j is global
 * expert experts[j]). The router keeps the held experts' columns, so the local softmax and top-k
 * run over the held experts only: exactly the full router with the missing experts' logits at
 * −∞ (transformerLM's `route` option builds that masked form on the full model).
 */
export interface TransformerSubnet {
  /** Width ratio of head dims and feed-forward units, in (0, 1]; default 1. */
  width?: number;
  /** Attention heads kept (the first ones); default all. */
  heads?: number;
  /** Blocks kept (the first ones); default all. */
  depth?: number;
  /** Expert ids held (MoE models only); default all. */
  experts?: readonly number[];
}

export interface TransformerSubnetwork {
  /** The config of the sub-model (a plain transformer config, smaller). */
  readonly config: TransformerConfig;
  /** Where its parameters sit in the full model. */
  readonly slice: Slice;
  /** Builds the sub-model's graph (training or inference). */
  build(opts?: TransformerOptions): TransformerModel;
}

function heldExperts(global: TransformerConfig, sub: TransformerSubnet): number[] | null {
  if (sub.experts === undefined) return null;
  const moe = global.moe;
  if (moe === undefined) throw new ModelError('MODEL_SLICE', 'experts given for a model without a mixture of experts');
  const ids = [...new Set(sub.experts)].sort((a, b) => a - b);
  if (ids.length !== sub.experts.length || ids.some((i) => !Number.isInteger(i) || i < 0 || i >= moe.experts)) {
    throw new ModelError('MODEL_SLICE', `experts [${sub.experts.join(', ')}] must be distinct ids in [0, ${moe.experts})`);
  }
  if (ids.length < moe.topK) throw new ModelError('MODEL_SLICE', `${ids.length} experts cannot serve top-${moe.topK} routing`);
  return ids;
}

export function transformerSubnetConfig(global: TransformerConfig, sub: TransformerSubnet): TransformerConfig {
  const r = sub.width ?? 1;
  const heads = sub.heads ?? global.heads;
  const depth = sub.depth ?? global.layers;
  if (!Number.isInteger(heads) || heads < 1 || heads > global.heads) throw new ModelError('MODEL_SLICE', `heads ${heads} is not in [1, ${global.heads}]`);
  if (!Number.isInteger(depth) || depth < 1 || depth > global.layers) throw new ModelError('MODEL_SLICE', `depth ${depth} is not in [1, ${global.layers}]`);
  const experts = heldExperts(global, sub);
  const out: TransformerConfig = {
    ...global,
    heads,
    headDim: unitsFor(global.headDim, r, 'width'),
    ffDim: unitsFor(global.ffDim, r, 'width'),
    layers: depth,
    attnScaleDim: global.attnScaleDim ?? global.headDim,
  };
  if (global.moe !== undefined) out.moe = { ...global.moe, ffDim: unitsFor(global.moe.ffDim, r, 'width'), experts: experts?.length ?? global.moe.experts };
  if (experts !== null) delete out.route;
  return out;
}

/** The slice of a sub-network; `sel` picks leading (HeteroFL) or rolling (FedRolex) units. */
export function transformerSubnetSlice(global: TransformerConfig, sub: TransformerSubnet, sel: WidthSelection = HETEROFL): Slice {
  const local = transformerSubnetConfig(global, sub);
  const all: AxisSelection = { kind: 'all' };
  const inner = indexSelection(headIndices(global.headDim, local.heads, local.headDim, sel), global.heads * global.headDim);
  const tensors: TensorSlice[] = [
    { name: 'tok.embedding', axes: [all, all] },
    { name: 'pos.embedding', axes: [all, all] },
  ];
  const experts = heldExperts(global, sub);
  for (let l = 0; l < local.layers; l++) {
    const p = `blocks.${l}`;
    tensors.push({ name: `${p}.ln1.weight`, axes: [all] }, { name: `${p}.ln1.bias`, axes: [all] });
    for (const m of ['q', 'k', 'v']) tensors.push({ name: `${p}.attn.${m}.weight`, axes: [all, inner] }, { name: `${p}.attn.${m}.bias`, axes: [inner] });
    tensors.push({ name: `${p}.attn.o.weight`, axes: [inner, all] }, { name: `${p}.attn.o.bias`, axes: [all] });
    tensors.push({ name: `${p}.ln2.weight`, axes: [all] }, { name: `${p}.ln2.bias`, axes: [all] });
    if (global.moe !== undefined) {
      const e = experts === null ? all : indexSelection(experts, global.moe.experts);
      const f = selectUnits(global.moe.ffDim, local.moe!.ffDim, sel);
      tensors.push(
        { name: `${p}.moe.router.weight`, axes: [all, e] },
        { name: `${p}.moe.fc1.weight`, axes: [e, all, f] },
        { name: `${p}.moe.fc1.bias`, axes: [e, f] },
        { name: `${p}.moe.fc2.weight`, axes: [e, f, all] },
        { name: `${p}.moe.fc2.bias`, axes: [e, all] },
      );
    } else {
      const f = selectUnits(global.ffDim, local.ffDim, sel);
      tensors.push(
        { name: `${p}.ff.fc1.weight`, axes: [all, f] },
        { name: `${p}.ff.fc1.bias`, axes: [f] },
        { name: `${p}.ff.fc2.weight`, axes: [f, all] },
        { name: `${p}.ff.fc2.bias`, axes: [all] },
      );
    }
  }
  tensors.push(
    { name: 'ln_f.weight', axes: [all] },
    { name: 'ln_f.bias', axes: [all] },
    { name: 'head.weight', axes: [all, all] },
    { name: 'head.bias', axes: [all] },
  );
  return { tensors };
}

export function transformerSubnetwork(global: TransformerConfig, sub: TransformerSubnet, sel: WidthSelection = HETEROFL): TransformerSubnetwork {
  const config = transformerSubnetConfig(global, sub);
  const slice = transformerSubnetSlice(global, sub, sel);
  return { config, slice, build: (opts) => transformerLM(config, opts) };
}

/** The trunk plus a set of experts (spec: "experts=0,3"). */
export function moeExpertSlice(global: TransformerConfig, experts: readonly number[]): Slice {
  return transformerSubnetSlice(global, { experts });
}
