import { gradients } from './autodiff.js';
import { zerosLike } from './emit.js';
import { EngineError } from './errors.js';
import type { BuiltModel, TensorInfo, Value } from './graph.js';
import { clipByGlobalNorm, emitUpdate, inputNamed, type OptimizerSpec } from './optimizer.js';

export interface TrainingGraphOptions {
  /** The scalar loss of the forward graph. */
  loss: Value;
  /** Parameters to train; default: every parameter of the graph. The rest stay fixed inputs. */
  params?: readonly Value[];
  optimizer: OptimizerSpec;
  /** Clip gradients to this global L2 norm before the update (and output `grad_norm`). */
  clipGradNorm?: number;
  /** Also output each parameter's raw gradient (before clipping) as `<param>.grad`. */
  returnGradients?: boolean;
  /** Extra forward values to output (for example logits, to count correct predictions). */
  extraOutputs?: Readonly<Record<string, Value>>;
}

/**
 * The names of a training step's inputs and outputs. Arrays are parallel: outputs.params[i] is
 * the next value of inputs.params[i], outputs.state[i] the next value of inputs.state[i].
 */
export interface TrainingGraph {
  readonly bytes: Uint8Array;
  readonly inputs: {
    readonly params: readonly string[];
    /** Optimiser state; every slot starts as zeros of its parameter's shape. */
    readonly state: readonly TensorInfo[];
    /** The batch: every other input (data, labels, dropout masks, fixed parameters). */
    readonly batch: readonly TensorInfo[];
    /** Learning rate, a scalar of the graph's float type. */
    readonly lr: string;
    /** AdamW's 1-based step number, a float scalar; null for SGD. */
    readonly step: string | null;
  };
  readonly outputs: {
    readonly loss: string;
    readonly params: readonly string[];
    readonly state: readonly string[];
    readonly gradients: readonly string[] | null;
    readonly gradNorm: string | null;
    readonly extra: readonly string[];
  };
  readonly model: BuiltModel;
}

/**
 * Turns a forward graph with a scalar loss into one training-step model: forward, reverse-mode
 * gradients, optional global-norm clipping and the optimiser update, all in one ONNX graph
 * that onnxruntime runs in a single call.
 */
export function buildTrainingGraph(opts: TrainingGraphOptions): TrainingGraph {
  const { loss } = opts;
  const g = loss.graph;
  const params = opts.params ?? g.params;
  if (params.length === 0) throw new EngineError('ENGINE_GRAPH', 'training graph: no parameters to train');
  for (const p of params) if (p.kind !== 'param') throw new EngineError('ENGINE_GRAPH', `training graph: ${p.name} is not a parameter`);

  // A parameter the loss does not reach gets a zero gradient, so its update (weight decay,
  // momentum) still runs and every parameter has a real output.
  const grads = gradients(loss, params).map((d, i) => d ?? zerosLike(params[i]));
  let used = grads;
  let gradNorm: Value | null = null;
  if (opts.clipGradNorm !== undefined) {
    const clipped = clipByGlobalNorm(grads, opts.clipGradNorm);
    used = clipped.grads;
    gradNorm = clipped.norm;
  }
  const lr = inputNamed(g, 'lr', null);
  const update = emitUpdate(opts.optimizer, params, used, lr);

  const outputs: [string, Value][] = [['loss', loss]];
  const paramOut = params.map((p) => `${p.name}.next`);
  update.params.forEach((v, i) => outputs.push([paramOut[i], v]));
  const stateOut = update.state.map((s) => `${s.name}.next`);
  update.state.forEach((s, i) => outputs.push([stateOut[i], s.output]));
  const gradOut = opts.returnGradients === true ? params.map((p) => `${p.name}.grad`) : null;
  gradOut?.forEach((name, i) => outputs.push([name, grads[i]]));
  if (gradNorm !== null) outputs.push(['grad_norm', gradNorm]);
  const extra = Object.entries(opts.extraOutputs ?? {});
  for (const [name, v] of extra) outputs.push([name, v]);

  const model = g.toModel({ outputs, metadata: { 'fednode.kind': 'training-step', 'fednode.optimizer': opts.optimizer.kind } });
  const special = new Set<string>([...params.map((p) => p.name), ...update.state.map((s) => s.name), 'lr', ...(update.step === null ? [] : ['step'])]);
  return {
    bytes: model.bytes,
    inputs: {
      params: params.map((p) => p.name),
      state: update.state.map((s) => ({ name: s.name, dtype: s.input.dtype, shape: s.input.shape })),
      batch: model.inputs.filter((t) => !special.has(t.name)),
      lr: 'lr',
      step: update.step === null ? null : 'step',
    },
    outputs: { loss: 'loss', params: paramOut, state: stateOut, gradients: gradOut, gradNorm: gradNorm === null ? null : 'grad_norm', extra: extra.map(([n]) => n) },
    model,
  };
}
