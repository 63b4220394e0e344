import { EngineError } from './errors.js';
import type { Graph, Value } from './graph.js';

/**
 * An op of the registry: how it emits its forward node(s), and its gradient rule. The rule gets
 * the op's inputs, outputs, attributes and whatever the forward chose to save, the gradients of
 * its outputs (null where an output does not reach the loss), and which inputs need a gradient;
 * it returns one gradient per input (null for none).
 */
export interface OpDef<A, S = undefined> {
  readonly name: string;
  forward(g: Graph, inputs: readonly Value[], attrs: A): { outputs: Value[]; saved: S };
  backward(ctx: OpContext<A, S>, grads: readonly (Value | null)[], needs: readonly boolean[]): (Value | null)[];
}

export interface OpContext<A, S> {
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: A;
  readonly saved: S;
}

const registry = new Map<string, OpDef<never, unknown>>();

/** Registers an op (once per name) and returns it, so modules can write `const op = defineOp(...)`. */
export function defineOp<A, S = undefined>(def: OpDef<A, S>): OpDef<A, S> {
  if (registry.has(def.name)) throw new EngineError('ENGINE_OP', `op ${def.name} is defined twice`);
  registry.set(def.name, def as OpDef<never, unknown>);
  return def;
}

/** The names of every registered op (the gradient-check tests cover each one). */
export function registeredOps(): string[] {
  return [...registry.keys()].sort();
}

/** Runs an op's forward and records it on its graph's tape for autodiff. */
export function apply<A, S>(op: OpDef<A, S>, inputs: readonly Value[], attrs: A): Value[] {
  if (inputs.length === 0) throw new EngineError('ENGINE_OP', `${op.name}: no inputs`);
  const g = inputs[0].graph;
  for (const v of inputs) if (v.graph !== g) throw new EngineError('ENGINE_GRAPH', `${op.name}: inputs from different graphs`);
  const { outputs, saved } = op.forward(g, inputs, attrs);
  const ctx: OpContext<A, S> = { inputs, outputs, attrs, saved };
  g.record({ op: op.name, inputs, outputs, backward: (grads, needs) => op.backward(ctx, grads, needs) });
  return outputs;
}
