import { attr, type Value } from '../engine/index.js';
import { ModelError } from './errors.js';

/**
 * Plain ONNX nodes with no gradient, for values the loss must treat as constants: the top-k
 * selection (piecewise constant), expert counts (Megatron's f is detached), argmax and hit
 * counts. They are emitted with Graph.emit1, so they never land on the autodiff tape.
 */

/** Indices of the k largest entries along the last axis, as int64 [..., k]. */
export function topKIndices(x: Value, k: number): Value {
  const g = x.graph;
  const shape = [...x.shape.slice(0, -1), k];
  const [, idx] = g.emit('TopK', [x, g.ints([k])], { axis: attr.int(-1), largest: attr.int(1), sorted: attr.int(1) }, [
    { dtype: x.dtype, shape },
    { dtype: 'int64', shape },
  ]);
  return idx;
}

/**
 * A 0/1 mask shaped like x [..., E] with exactly k ones per row: the top-k entries. Built from
 * TopK's indices (one-hot, summed over the k picks), so ties can never select more than k.
 */
export function topKMaskOf(x: Value, k: number): Value {
  const g = x.graph;
  const e = x.shape[x.rank - 1];
  if (typeof e !== 'number') throw new ModelError('MODEL_CONFIG', `top-k: the last axis of ${x.name} must be static`);
  const idx = topKIndices(x, k);
  const idx1 = g.emit1('Unsqueeze', [idx, g.ints([-1])], {}, 'int64', [...idx.shape, 1]);
  const range = g.ints(Array.from({ length: e }, (_, i) => i));
  const hot = g.emit1('Equal', [idx1, range], {}, 'bool', [...idx.shape, e]);
  const hotF = g.emit1('Cast', [hot], { to: attr.int(x.dtype === 'float64' ? 11 : 1) }, x.dtype, hot.shape);
  const axis = hot.rank - 2;
  return g.emit1('ReduceSum', [hotF, g.ints([axis])], { keepdims: attr.int(0) }, x.dtype, x.shape);
}

/** Sum over the given axes (no gradient). */
export function sumNoGrad(x: Value, axes: readonly number[], keepdims = false): Value {
  const g = x.graph;
  const shape = keepdims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  return g.emit1('ReduceSum', [x, g.ints(axes)], { keepdims: attr.int(keepdims ? 1 : 0) }, x.dtype, shape);
}

export function divNoGrad(a: Value, b: Value, shape: Value['shape']): Value {
  return a.graph.emit1('Div', [a, b], {}, a.dtype, shape);
}

export function mulNoGrad(a: Value, b: Value, shape: Value['shape']): Value {
  return a.graph.emit1('Mul', [a, b], {}, a.dtype, shape);
}

/** Number of correct argmax predictions of logits [B, C] against int64 labels [B], as a float scalar. */
export function correctCount(logits: Value, labels: Value): Value {
  const g = logits.graph;
  const pred = g.emit1('ArgMax', [logits], { axis: attr.int(-1), keepdims: attr.int(0) }, 'int64', logits.shape.slice(0, -1));
  const hit = g.emit1('Equal', [pred, labels], {}, 'bool', pred.shape);
  const hits = g.emit1('Cast', [hit], { to: attr.int(logits.dtype === 'float64' ? 11 : 1) }, logits.dtype, pred.shape);
  return g.emit1('ReduceSum', [hits, g.ints(pred.shape.map((_, i) => i))], { keepdims: attr.int(0) }, logits.dtype, []);
}
