import * as e from './emit.js';
import { EngineError } from './errors.js';
import type { Graph, Value } from './graph.js';

/**
 * Optimiser steps written as graph nodes, so one session run does forward, backward and the
 * update. The formulas follow PyTorch's SGD and AdamW, so a run can be checked against it.
 */

export interface SgdSpec {
  kind: 'sgd';
  /** 0 disables the momentum buffer (and its state tensors). Default 0.9. */
  momentum?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient (coupled, as in torch.optim.SGD). Default 0. */
  weightDecay?: number;
}

export interface AdamWSpec {
  kind: 'adamw';
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay: p *= 1 - lr * weightDecay before the Adam step. Default 0.01. */
  weightDecay?: number;
}

export type OptimizerSpec = SgdSpec | AdamWSpec;

/** A state tensor: its input (this step's value) and output (the next step's). Starts at zero. */
export interface StateSlot {
  readonly name: string;
  readonly input: Value;
  readonly output: Value;
}

export interface UpdateNodes {
  readonly params: Value[];
  readonly state: StateSlot[];
  /** Set when the optimiser needs the step count (AdamW's bias correction). */
  readonly step: Value | null;
}

/** A scalar or tensor input, reused if an earlier training graph on this graph declared it. */
export function inputNamed(g: Graph, name: string, like: Value | null): Value {
  const found = g.inputs.find((v) => v.name === name);
  const shape = like === null ? [] : like.shape;
  if (found !== undefined) {
    if (found.kind !== 'input' || found.rank !== shape.length) throw new EngineError('ENGINE_GRAPH', `input ${name} already exists with another role or shape`);
    return found;
  }
  return g.input(name, shape);
}

export function emitUpdate(spec: OptimizerSpec, params: readonly Value[], grads: readonly Value[], lr: Value): UpdateNodes {
  return spec.kind === 'sgd' ? sgd(spec, params, grads, lr) : adamw(spec, params, grads, lr);
}

function sgd(spec: SgdSpec, params: readonly Value[], grads: readonly Value[], lr: Value): UpdateNodes {
  const momentum = spec.momentum ?? 0.9;
  const wd = spec.weightDecay ?? 0;
  if (!(momentum >= 0 && momentum < 1) || !(wd >= 0)) throw new EngineError('ENGINE_OP', `sgd: momentum ${momentum} or weight decay ${wd} out of range`);
  if (spec.nesterov === true && momentum === 0) throw new EngineError('ENGINE_OP', 'sgd: nesterov needs momentum > 0');
  const state: StateSlot[] = [];
  const out = params.map((p, i) => {
    const g = p.graph;
    let d = wd > 0 ? e.add(grads[i], e.scale(p, wd)) : grads[i];
    if (momentum > 0) {
      // buf = momentum * buf + d; the step uses buf (or d + momentum * buf with Nesterov).
      const name = `${p.name}.momentum`;
      const buf = inputNamed(g, name, p);
      const next = e.add(e.scale(buf, momentum), d);
      state.push({ name, input: buf, output: next });
      d = spec.nesterov === true ? e.add(d, e.scale(next, momentum)) : next;
    }
    return e.sub(p, e.mul(lr, d));
  });
  return { params: out, state, step: null };
}

function adamw(spec: AdamWSpec, params: readonly Value[], grads: readonly Value[], lr: Value): UpdateNodes {
  const b1 = spec.beta1 ?? 0.9;
  const b2 = spec.beta2 ?? 0.999;
  const eps = spec.eps ?? 1e-8;
  const wd = spec.weightDecay ?? 0.01;
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1 && eps > 0 && wd >= 0)) throw new EngineError('ENGINE_OP', 'adamw: beta, eps or weight decay out of range');
  if (params.length === 0) return { params: [], state: [], step: null };
  const g = params[0].graph;
  // `step` is the 1-based number of this step; the caller counts (it is part of the state).
  const step = inputNamed(g, 'step', null);
  const one = g.scalar(1);
  const stepSize = e.div(lr, e.sub(one, e.binary('Pow', g.scalar(b1), step)));
  const sqrtBc2 = e.unary('Sqrt', e.sub(one, e.binary('Pow', g.scalar(b2), step)));
  const decay = e.sub(one, e.scale(lr, wd));
  const state: StateSlot[] = [];
  const out = params.map((p, i) => {
    const gr = grads[i];
    const mName = `${p.name}.exp_avg`;
    const vName = `${p.name}.exp_avg_sq`;
    const m = inputNamed(g, mName, p);
    const v = inputNamed(g, vName, p);
    const m2 = e.add(e.scale(m, b1), e.scale(gr, 1 - b1));
    const v2 = e.add(e.scale(v, b2), e.scale(e.mul(gr, gr), 1 - b2));
    state.push({ name: mName, input: m, output: m2 }, { name: vName, input: v, output: v2 });
    const denom = e.add(e.div(e.unary('Sqrt', v2), sqrtBc2), g.scalar(eps));
    const decayed = wd > 0 ? e.mul(p, decay) : p;
    return e.sub(decayed, e.mul(stepSize, e.div(m2, denom)));
  });
  return { params: out, state, step };
}

/**
 * Global-norm clipping as in torch.nn.utils.clip_grad_norm_: every gradient is scaled by
 * min(1, maxNorm / (norm + 1e-6)). Returns the clipped gradients and the norm before clipping.
 */
export function clipByGlobalNorm(grads: readonly Value[], maxNorm: number): { grads: Value[]; norm: Value } {
  if (!(maxNorm > 0)) throw new EngineError('ENGINE_OP', `clipGradNorm: ${maxNorm} must be > 0`);
  const g = grads[0].graph;
  const norm = e.unary('Sqrt', e.sumAll(grads.map(e.sumSquares)));
  const coef = e.binary('Min', g.scalar(1), e.div(g.scalar(maxNorm), e.add(norm, g.scalar(1e-6))));
  return { grads: grads.map((d) => e.mul(d, coef)), norm };
}
