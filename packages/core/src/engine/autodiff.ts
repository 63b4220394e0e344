import { isFloat } from './dtype.js';
import { sumAll } from './emit.js';
import { EngineError } from './errors.js';
import type { Value } from './graph.js';
import { compatibleDim, shapeStr } from './shape.js';

/**
 * Reverse-mode autodiff over a graph's tape. Walks the registry ops that lie between `wrt`
 * and `output` backwards, asks each op's gradient rule for its inputs' gradients, and sums
 * the contributions a value receives from several consumers. Returns, per `wrt`, its
 * gradient, or null when the output does not depend on it.
 *
 * `seed` is the gradient of `output` (a vector-Jacobian product); by default the output must
 * be a scalar and the seed is 1.
 */
export function gradients(output: Value, wrt: readonly Value[], seed?: Value): (Value | null)[] {
  const g = output.graph;
  if (seed === undefined) {
    if (output.rank !== 0) throw new EngineError('ENGINE_SHAPE', `gradients: ${output} is not a scalar; pass a seed`);
    seed = g.scalar(1, output.dtype);
  } else if (seed.dtype !== output.dtype || seed.rank !== output.rank || !seed.shape.every((d, i) => compatibleDim(d, output.shape[i]))) {
    throw new EngineError('ENGINE_SHAPE', `gradients: seed ${seed} does not match ${output}`);
  }
  for (const v of wrt) {
    if (v.graph !== g) throw new EngineError('ENGINE_GRAPH', `gradients: ${v.name} belongs to another graph`);
    if (!isFloat(v.dtype)) throw new EngineError('ENGINE_SHAPE', `gradients: ${v} is not a float tensor`);
  }

  // The tape as it stands; rules may apply registry ops, whose entries land after this snapshot.
  const tape = g.tape.slice();

  // Forward sweep: which values depend on some `wrt` (only they need gradients).
  const live = new Set(wrt.map((v) => v.name));
  for (const entry of tape) {
    if (entry.inputs.some((v) => live.has(v.name))) for (const o of entry.outputs) live.add(o.name);
  }
  if (!live.has(output.name)) return wrt.map(() => null);

  const contributions = new Map<string, Value[]>([[output.name, [seed]]]);
  const gradOf = (v: Value): Value | null => {
    const parts = contributions.get(v.name);
    if (parts === undefined) return null;
    const total = sumAll(parts);
    contributions.set(v.name, [total]); // summed once, even if asked again
    return total;
  };

  for (let i = tape.length - 1; i >= 0; i--) {
    const entry = tape[i];
    const grads = entry.outputs.map(gradOf);
    if (grads.every((x) => x === null)) continue;
    const needs = entry.inputs.map((v) => live.has(v.name) && isFloat(v.dtype));
    if (!needs.some(Boolean)) continue;
    const inGrads = entry.backward(grads, needs);
    entry.inputs.forEach((v, k) => {
      const d = inGrads[k];
      if (!needs[k] || d === undefined || d === null) return;
      const fits = d.dtype === v.dtype && d.rank === v.rank && d.shape.every((s, j) => compatibleDim(s, v.shape[j]));
      if (!fits) throw new EngineError('ENGINE_SHAPE', `${entry.op}: gradient ${d.dtype}${shapeStr(d.shape)} does not match input ${v}`);
      const parts = contributions.get(v.name);
      if (parts === undefined) contributions.set(v.name, [d]);
      else parts.push(d);
    });
  }
  return wrt.map(gradOf);
}
