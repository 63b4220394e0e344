import { add, div, matmul, mul, reduceMean, reduceSum, reshape, softmax, transpose, type Graph, type Value } from '../engine/index.js';
import { activate, type Activation } from './activation.js';
import { ModelError, expectPosInt } from './errors.js';
import { divNoGrad, mulNoGrad, sumNoGrad, topKMaskOf } from './nodes.js';

/**
 * A mixture-of-experts feed-forward layer (spec 7) with dense masked compute: every expert
 * runs on every token (one batched MatMul over the stacked expert weights), and the outputs
 * are combined with a gate matrix that is zero outside each token's top-k experts. At our
 * sizes this costs E feed-forwards instead of k, and needs no gather/scatter or capacity.
 *
 * Parameters of a layer `p` (E experts of width F on a model of width d):
 *   p.router.weight [d, E]; p.fc1.weight [E, d, F], p.fc1.bias [E, F]; p.fc2.weight [E, F, d], p.fc2.bias [E, d].
 * Expert e is index e of axis 0 of the fc tensors and column e of the router, so an expert
 * slice is one index list.
 */

/** Megatron: f_i = count_i / (T k), a uniform router scores 1. HF (Mixtral): f_i = count_i / T, it scores k. */
export type LblForm = 'megatron' | 'hf';

export interface MoeConfig {
  experts: number;
  /**
   * Experts per token, 1 to `experts`. All of them makes a soft mixture: every token gets a
   * probability-weighted sum of every expert, at no extra cost here since this layer computes
   * every expert on every token anyway.
   */
  topK: number;
  /** Width of each expert's feed-forward. */
  ffDim: number;
  /** Load-balancing loss coefficient α (default 0.01); 0 leaves the loss out. */
  alpha?: number;
  form?: LblForm;
  /**
   * Renormalise the top-k probabilities to sum to 1 (Mixtral) or use them as they are (Switch,
   * Qwen's norm_topk_prob = false). Default: renormalise for k > 1, not for k = 1, because
   * with k = 1 the renormalised weight is always 1 and the router would learn from the
   * load-balancing loss alone.
   */
  normalize?: boolean;
  /**
   * Global-batch load balancing: the counts come in as inputs `<layer>.counts` [E] (summed over
   * ranks and micro-batches) with the global token count `<layer>.tokens` (a scalar), and the
   * local probabilities are scaled by 1/T_global (spec 7, Megatron's global variant).
   */
  globalCounts?: boolean;
  activation?: Activation;
}

export interface MoeLayer {
  /** The layer's output, shaped like its input. */
  readonly y: Value;
  /** Router probabilities [..., E]. */
  readonly probs: Value;
  /** 0/1 top-k mask [..., E] (a constant of the graph: no gradient). */
  readonly mask: Value;
  /** Tokens routed to each expert in this batch [E] (no gradient): what a global-batch caller sums. */
  readonly counts: Value;
  /** α-weighted load-balancing loss (a scalar), or null when α = 0. */
  readonly aux: Value | null;
}

/** Large enough that exp underflows to exactly 0, finite so that no inf − inf makes a NaN. */
export const MASKED_LOGIT = -1e9;

export function checkMoeConfig(c: MoeConfig, what = 'moe'): void {
  expectPosInt(`${what}.experts`, c.experts);
  expectPosInt(`${what}.ffDim`, c.ffDim);
  if (!Number.isInteger(c.topK) || c.topK < 1) throw new ModelError('MODEL_CONFIG', `${what}.topK is ${String(c.topK)}, expected an integer >= 1`);
  if (c.topK > c.experts) throw new ModelError('MODEL_CONFIG', `${what}.topK ${c.topK} exceeds ${c.experts} experts`);
  const alpha = c.alpha ?? 0.01;
  if (!(alpha >= 0)) throw new ModelError('MODEL_CONFIG', `${what}.alpha is ${alpha}, expected >= 0`);
  if (c.form !== undefined && c.form !== 'megatron' && c.form !== 'hf') throw new ModelError('MODEL_CONFIG', `${what}.form "${String(c.form)}" is not megatron or hf`);
}

export interface LoadBalancingOptions {
  topK: number;
  alpha: number;
  form?: LblForm;
  /** Global-batch counts [E] and the global token count (a scalar), both graph inputs. */
  global?: { counts: Value; tokens: Value };
}

/**
 * LBL = α·E·Σ_i f_i·P_i (spec 7). P_i = mean over tokens of the router probability (the only
 * path for gradients); f_i comes from the top-k counts and is a constant. `probs` and `mask`
 * are [..., E]; every leading axis is a token axis.
 */
export function loadBalancingLoss(probs: Value, mask: Value, opts: LoadBalancingOptions): Value {
  const g = probs.graph;
  const e = probs.shape[probs.rank - 1];
  if (typeof e !== 'number') throw new ModelError('MODEL_CONFIG', 'load-balancing loss: the expert axis must be static');
  const tokenAxes = probs.shape.slice(0, -1).map((_, i) => i);
  const k = opts.topK;
  const perPick = (opts.form ?? 'megatron') === 'megatron';
  let weighted: Value;
  if (opts.global === undefined) {
    // Each token has exactly k ones in the mask, so the picks total T·k: f needs no token count.
    const counts = sumNoGrad(mask, tokenAxes);
    const picks = sumNoGrad(counts, [0]);
    let f = divNoGrad(counts, picks, [e]);
    if (!perPick) f = mulNoGrad(f, g.scalar(k, probs.dtype), [e]);
    weighted = mul(reduceMean(probs, tokenAxes), f);
  } else {
    // aux_rank = α·E·Σ_i (Σ_local p_i / T)·f_i^global, f^global = counts / (T k) or counts / T.
    const { counts, tokens } = opts.global;
    const denom = perPick ? mulNoGrad(tokens, g.scalar(k, probs.dtype), []) : tokens;
    const f = divNoGrad(counts, denom, [e]);
    const fOverT = divNoGrad(f, tokens, [e]);
    weighted = mul(reduceSum(probs, tokenAxes), fOverT);
  }
  return mul(reduceSum(weighted), g.scalar(opts.alpha * e, probs.dtype));
}

/**
 * Top-k gate weights [..., E]: the probabilities inside each token's top-k, zero elsewhere,
 * renormalised to sum to 1 when `normalize`. The selection is a constant; gradients reach the
 * router through the kept probabilities.
 */
export function topKGate(probs: Value, k: number, normalize: boolean): { gate: Value; mask: Value } {
  const mask = topKMaskOf(probs, k);
  const kept = mul(probs, mask);
  return { gate: normalize ? div(kept, reduceSum(kept, [-1], true)) : kept, mask };
}

export interface MoeLayerOptions {
  /** Experts tokens may be routed to; the others' router logits are set to −∞ (MASKED_LOGIT) before the top-k. Default all. */
  route?: readonly number[];
  /** Standard deviation of the weights' normal init (default 0.02), and of the fc2 weights (default the same). */
  initStd?: number;
  outInitStd?: number;
}

/** The MoE feed-forward on x [N, T, d] (params named `${prefix}.…`). */
export function moeFeedForward(x: Value, prefix: string, c: MoeConfig, opts: MoeLayerOptions = {}): MoeLayer {
  checkMoeConfig(c, prefix);
  const g: Graph = x.graph;
  if (x.rank !== 3 || typeof x.shape[1] !== 'number' || typeof x.shape[2] !== 'number') {
    throw new ModelError('MODEL_CONFIG', `${prefix}: expected x [N, T, d] with static T and d, got ${x}`);
  }
  const t = x.shape[1];
  const d = x.shape[2];
  const { experts: e, ffDim: f, topK: k } = c;
  const std = opts.initStd ?? 0.02;
  const router = g.param(`${prefix}.router.weight`, [d, e], { kind: 'normal', std });
  const w1 = g.param(`${prefix}.fc1.weight`, [e, d, f], { kind: 'normal', std });
  const b1 = g.param(`${prefix}.fc1.bias`, [e, f]);
  const w2 = g.param(`${prefix}.fc2.weight`, [e, f, d], { kind: 'normal', std: opts.outInitStd ?? std });
  const b2 = g.param(`${prefix}.fc2.bias`, [e, d]);

  let logits = matmul(x, router); // [N, T, E]
  if (opts.route !== undefined) {
    const allowed = new Set(opts.route);
    if (allowed.size < k || [...allowed].some((i) => !Number.isInteger(i) || i < 0 || i >= e)) {
      throw new ModelError('MODEL_CONFIG', `${prefix}: route [${opts.route.join(', ')}] must name at least ${k} of experts 0..${e - 1}`);
    }
    const bias = g.constant(Array.from({ length: e }, (_, i) => (allowed.has(i) ? 0 : MASKED_LOGIT)), [e]);
    logits = add(logits, bias);
  }
  const probs = softmax(logits, -1);
  const { gate, mask } = topKGate(probs, k, c.normalize ?? k > 1);

  // Every expert on every token: [N, 1, T, d] x [E, d, F] -> [N, E, T, F] -> [N, E, T, d].
  const xe = reshape(x, [0, 1, t, d]);
  const h = activate(add(matmul(xe, w1), reshape(b1, [e, 1, f])), c.activation ?? 'gelu');
  const out = add(matmul(h, w2), reshape(b2, [e, 1, d]));
  const gateE = reshape(transpose(gate, [0, 2, 1]), [0, 0, 0, 1]); // [N, E, T, 1]
  const y = reduceSum(mul(out, gateE), [1]);

  const alpha = c.alpha ?? 0.01;
  const counts = sumNoGrad(mask, [0, 1]);
  let aux: Value | null = null;
  if (alpha > 0) {
    const global = c.globalCounts === true ? { counts: g.input(`${prefix}.counts`, [e]), tokens: g.input(`${prefix}.tokens`, []) } : undefined;
    aux = loadBalancingLoss(probs, mask, { topK: k, alpha, form: c.form, global });
  }
  return { y, probs, mask, counts, aux };
}
