import {
  BATCH,
  Graph,
  add,
  gather,
  layerNorm,
  matmul,
  mul,
  reshape,
  slice,
  softmax,
  softmaxCrossEntropy,
  transpose,
  type FloatType,
  type Value,
} from '../engine/index.js';
import { activate, type Activation } from './activation.js';
import { ModelError, expectPosInt } from './errors.js';
import { MASKED_LOGIT, checkMoeConfig, moeFeedForward, type MoeConfig, type MoeLayer } from './moe.js';

/**
 * A character-level transformer language model (GPT-style, pre-norm): token embedding plus
 * learned positions, `layers` blocks of x += Attn(LN(x)) and x += FF(LN(x)) with causal
 * multi-head attention and a GELU feed-forward (or a mixture of experts), a final LayerNorm
 * and a linear head over the vocabulary.
 *
 * Loss: the mean next-character cross-entropy over ALL positions of each window (input
 * text[o, o+T), targets text[o+1, o+T+1)): every window trains T predictions instead of LEAF's
 * one, and the last position's target is exactly LEAF's label, which is what evaluation scores
 * (`lastLogits`). With a mixture of experts the loss adds each layer's load-balancing term.
 *
 * Linear weights are stored [in, out] (x · W), so activations stay [N, T, d] and every
 * projection is one MatMul. Parameter names:
 *   tok.embedding [V, d], pos.embedding [T, d],
 *   blocks.{l}.ln1.{weight,bias} [d], blocks.{l}.attn.{q,k,v}.weight [d, H·dh], .bias [H·dh]
 *   (head h owns columns [h·dh, (h+1)·dh)), blocks.{l}.attn.o.weight [H·dh, d], .bias [d],
 *   blocks.{l}.ln2.{weight,bias}, blocks.{l}.ff.fc1.weight [d, F], .bias [F],
 *   blocks.{l}.ff.fc2.weight [F, d], .bias [d]  (or blocks.{l}.moe.* — see moe.ts),
 *   ln_f.{weight,bias} [d], head.weight [d, V], head.bias [V].
 */
export interface TransformerConfig {
  vocab: number;
  /** Context length T (LEAF's window is 80). */
  seqLen: number;
  dModel: number;
  heads: number;
  headDim: number;
  /** Feed-forward width (ignored for MoE blocks, whose experts have moe.ffDim). */
  ffDim: number;
  layers: number;
  /** When set, every block's feed-forward is this mixture of experts. */
  moe?: MoeConfig;
  activation?: Activation;
  /**
   * Attention scores are scaled by 1/sqrt(attnScaleDim) (default headDim). A supernet's
   * sub-networks keep the full network's head size here, so a narrowed head computes the same
   * partial dot products the full one would.
   */
  attnScaleDim?: number;
  /** Experts the routers may pick (the others' logits are masked to −∞). Default all. */
  route?: readonly number[];
}

export interface TransformerModel {
  readonly graph: Graph;
  readonly config: TransformerConfig;
  /** Input ids [N, T] (int64). */
  readonly x: Value;
  /** Next-character targets [N, T] (int64). */
  readonly y: Value;
  /** Logits [N, T, V]. */
  readonly logits: Value;
  /** Logits of the last position [N, V]: the prediction of a LEAF sample's label. */
  readonly lastLogits: Value;
  /** Mean next-character cross-entropy over all positions. */
  readonly ce: Value;
  /** Sum of the layers' load-balancing losses, or null without experts. */
  readonly aux: Value | null;
  /** ce + aux: what training minimises. */
  readonly loss: Value;
  /** Per MoE layer: router probabilities, masks and counts. */
  readonly moeLayers: readonly MoeLayer[];
}

export function checkTransformerConfig(c: TransformerConfig): void {
  for (const k of ['vocab', 'seqLen', 'dModel', 'heads', 'headDim', 'ffDim', 'layers'] as const) expectPosInt(`transformer.${k}`, c[k]);
  if (c.attnScaleDim !== undefined) expectPosInt('transformer.attnScaleDim', c.attnScaleDim);
  if (c.moe !== undefined) checkMoeConfig(c.moe, 'transformer.moe');
  if (c.route !== undefined && c.moe === undefined) throw new ModelError('MODEL_CONFIG', 'transformer.route needs transformer.moe');
}

/** Additive causal mask [T, T]: 0 where key j <= query i, MASKED_LOGIT above the diagonal. */
export function causalMask(g: Graph, t: number): Value {
  const m = new Array<number>(t * t);
  for (let i = 0; i < t; i++) for (let j = 0; j < t; j++) m[i * t + j] = j <= i ? 0 : MASKED_LOGIT;
  return g.constant(m, [t, t]);
}

/** x · W + b with W [in, out] (PyTorch-like init: normal(0, std), zero bias). */
export function linear(g: Graph, name: string, x: Value, inDim: number, outDim: number, std: number): Value {
  const w = g.param(`${name}.weight`, [inDim, outDim], { kind: 'normal', std });
  const b = g.param(`${name}.bias`, [outDim]);
  return add(matmul(x, w), b);
}

export interface AttentionShape {
  heads: number;
  headDim: number;
  /** Scores are scaled by 1/sqrt(scaleDim). */
  scaleDim: number;
}

/**
 * Causal multi-head self-attention on x [N, T, d] (params `${prefix}.{q,k,v,o}.*`). The mask
 * is a constant added to the scores, so it needs no gradient rule of its own.
 */
export function causalSelfAttention(x: Value, prefix: string, s: AttentionShape, std: number, outStd: number, mask?: Value): Value {
  const g = x.graph;
  const t = x.shape[1] as number;
  const d = x.shape[2] as number;
  const inner = s.heads * s.headDim;
  const split = (v: Value): Value => reshape(v, [0, 0, s.heads, s.headDim]); // [N, T, H, dh]
  const q = transpose(split(linear(g, `${prefix}.q`, x, d, inner, std)), [0, 2, 1, 3]); // [N, H, T, dh]
  const kT = transpose(split(linear(g, `${prefix}.k`, x, d, inner, std)), [0, 2, 3, 1]); // [N, H, dh, T]
  const v = transpose(split(linear(g, `${prefix}.v`, x, d, inner, std)), [0, 2, 1, 3]); // [N, H, T, dh]
  const scores = add(mul(matmul(q, kT), g.scalar(1 / Math.sqrt(s.scaleDim))), mask ?? causalMask(g, t));
  const att = softmax(scores, -1);
  const ctx = reshape(transpose(matmul(att, v), [0, 2, 1, 3]), [0, 0, inner]); // [N, T, H·dh]
  return linear(g, `${prefix}.o`, ctx, inner, d, outStd);
}

export interface TransformerOptions {
  dtype?: FloatType;
  /** Batch dimension: the symbolic BATCH by default, or a number (gradient checks). */
  batch?: number | string;
  /** Build into this (empty) graph instead of a new one; its dtype wins (gradient checks). */
  graph?: Graph;
  /** Init std of the weights (GPT-2's 0.02); residual output projections get std / sqrt(2 · layers). */
  initStd?: number;
}

export function transformerLM(c: TransformerConfig, opts: TransformerOptions = {}): TransformerModel {
  checkTransformerConfig(c);
  const g = opts.graph ?? new Graph({ dtype: opts.dtype ?? 'float32', name: c.moe === undefined ? 'transformer' : 'moe-transformer' });
  const { vocab: vs, seqLen: t, dModel: d } = c;
  const n = opts.batch ?? BATCH;
  const x = g.input('x', [n, t], 'int64');
  const y = g.input('y', [n, t], 'int64');
  const std = opts.initStd ?? 0.02;
  const outStd = std / Math.sqrt(2 * c.layers);

  const tok = g.param('tok.embedding', [vs, d], { kind: 'normal', std });
  const pos = g.param('pos.embedding', [t, d], { kind: 'normal', std });
  let h = add(gather(tok, x), pos); // [N, T, d]
  const mask = causalMask(g, t);
  const attn: AttentionShape = { heads: c.heads, headDim: c.headDim, scaleDim: c.attnScaleDim ?? c.headDim };
  const moeLayers: MoeLayer[] = [];
  const norm = (name: string, v: Value): Value => layerNorm(v, g.param(`${name}.weight`, [d], { kind: 'ones' }), g.param(`${name}.bias`, [d]));

  for (let l = 0; l < c.layers; l++) {
    const p = `blocks.${l}`;
    h = add(h, causalSelfAttention(norm(`${p}.ln1`, h), `${p}.attn`, attn, std, outStd, mask));
    const hn = norm(`${p}.ln2`, h);
    if (c.moe !== undefined) {
      const layer = moeFeedForward(hn, `${p}.moe`, c.moe, { route: c.route, initStd: std, outInitStd: outStd });
      moeLayers.push(layer);
      h = add(h, layer.y);
    } else {
      const f = activate(linear(g, `${p}.ff.fc1`, hn, d, c.ffDim, std), c.activation ?? 'gelu');
      h = add(h, linear(g, `${p}.ff.fc2`, f, c.ffDim, d, outStd));
    }
  }
  const logits = linear(g, 'head', norm('ln_f', h), d, vs, std); // [N, T, V]
  const lastLogits = reshape(slice(logits, [t - 1], [t], [1]), [0, vs]);
  const ce = softmaxCrossEntropy(reshape(logits, [-1, vs]), reshape(y, [-1]));
  const auxes = moeLayers.map((m) => m.aux).filter((a): a is Value => a !== null);
  const aux = auxes.length === 0 ? null : auxes.reduce((a, b) => add(a, b));
  const loss = aux === null ? ce : add(ce, aux);
  return { graph: g, config: c, x, y, logits, lastLogits, ce, aux, loss, moeLayers };
}

/** Parameter names and shapes of a config, in graph order (the layout of its ParamSet). */
export function transformerSpecs(c: TransformerConfig): { name: string; shape: number[] }[] {
  return transformerLM(c).graph.params.map((p) => ({ name: p.name, shape: p.shape as number[] }));
}

/** Number of parameters a token passes through (experts counted k of E; the embedding table once). */
export function activeParams(c: TransformerConfig): number {
  const d = c.dModel;
  const inner = c.heads * c.headDim;
  const attn = 3 * (d * inner + inner) + inner * d + d + 4 * d;
  const ff = c.moe === undefined ? 2 * d * c.ffDim + c.ffDim + d : c.moe.topK * (2 * d * c.moe.ffDim + c.moe.ffDim + d) + d * c.moe.experts;
  return c.vocab * d + c.seqLen * d + c.layers * (attn + ff) + 2 * d + d * c.vocab + c.vocab;
}
