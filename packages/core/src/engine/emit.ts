import { isFloat, type DType } from './dtype.js';
import { EngineError } from './errors.js';
import { attr, type Attrs, type Value } from './graph.js';
import { broadcastShapes, normAxis, numel, shapeStr, type Dim, type Shape } from './shape.js';

/**
 * Plain ONNX node emitters with shape inference and no gradient. Registry ops use them for
 * their forward nodes, and gradient rules use them to build the backward pass (so the
 * backward pass never lands on the tape).
 */

export function expectFloat(what: string, ...vs: Value[]): void {
  for (const v of vs) if (!isFloat(v.dtype)) throw new EngineError('ENGINE_SHAPE', `${what}: ${v.name} is ${v.dtype}, expected a float tensor`);
}

function sameType(what: string, vs: readonly Value[]): DType {
  const t = vs[0].dtype;
  for (const v of vs) if (v.dtype !== t) throw new EngineError('ENGINE_SHAPE', `${what}: mixed types ${vs.map((x) => x.dtype).join(', ')}`);
  return t;
}

export type BinaryOp = 'Add' | 'Sub' | 'Mul' | 'Div' | 'Pow' | 'Max' | 'Min';
export function binary(op: BinaryOp, a: Value, b: Value): Value {
  const t = sameType(op, [a, b]);
  return a.graph.emit1(op, [a, b], {}, t, broadcastShapes(op, a.shape, b.shape));
}
export const add = (a: Value, b: Value): Value => binary('Add', a, b);
export const sub = (a: Value, b: Value): Value => binary('Sub', a, b);
export const mul = (a: Value, b: Value): Value => binary('Mul', a, b);
export const div = (a: Value, b: Value): Value => binary('Div', a, b);

/** a * scalar, for a constant in the graph's float type. */
export function scale(a: Value, k: number): Value {
  return k === 1 ? a : mul(a, a.graph.scalar(k, a.dtype));
}

export function compare(op: 'Equal' | 'Greater' | 'Less', a: Value, b: Value): Value {
  sameType(op, [a, b]);
  return a.graph.emit1(op, [a, b], {}, 'bool', broadcastShapes(op, a.shape, b.shape));
}

export type UnaryOp = 'Relu' | 'Tanh' | 'Sigmoid' | 'Exp' | 'Log' | 'Neg' | 'Sqrt' | 'Erf' | 'Reciprocal' | 'Abs';
export function unary(op: UnaryOp, x: Value): Value {
  return x.graph.emit1(op, [x], {}, x.dtype, x.shape);
}

export function where(cond: Value, a: Value, b: Value): Value {
  if (cond.dtype !== 'bool') throw new EngineError('ENGINE_SHAPE', `Where: condition ${cond.name} is ${cond.dtype}, expected bool`);
  const t = sameType('Where', [a, b]);
  return cond.graph.emit1('Where', [cond, a, b], {}, t, broadcastShapes('Where', cond.shape, a.shape, b.shape));
}

/** Where(cond, a, 0): the gradient mask used by Relu, MaxPool and Where. */
export function keepWhere(cond: Value, a: Value): Value {
  return where(cond, a, a.graph.scalar(0, a.dtype));
}

export function cast(x: Value, to: DType): Value {
  if (x.dtype === to) return x;
  const codes: Record<DType, number> = { float32: 1, int64: 7, bool: 9, float64: 11 };
  return x.graph.emit1('Cast', [x], { to: attr.int(codes[to]) }, to, x.shape);
}

/** Shape(x) as an int64 vector; `start`/`end` select dims (opset 15). */
export function shapeOf(x: Value, start = 0, end = x.rank): Value {
  const attrs: Attrs = {};
  if (start !== 0) attrs.start = attr.int(start);
  if (end !== x.rank) attrs.end = attr.int(end);
  return x.graph.emit1('Shape', [x], attrs, 'int64', [end - start]);
}

/** Broadcasts x to the run-time shape of `like`. */
export function expandLike(x: Value, like: Value): Value {
  return x.graph.emit1('Expand', [x, shapeOf(like)], {}, x.dtype, broadcastShapes('Expand', x.shape, like.shape));
}

/** Zeros with the run-time shape of `like`, in `like`'s type. */
export function zerosLike(like: Value): Value {
  return expandLike(like.graph.scalar(0, like.dtype), like);
}

/** Reshape back to another value's run-time shape (the gradient of every shape op). */
export function reshapeLike(x: Value, like: Value): Value {
  return x.graph.emit1('Reshape', [x, shapeOf(like)], {}, x.dtype, like.shape);
}

/**
 * Reshape to a target of numbers where -1 infers one dim and 0 copies the input's dim.
 * Returns the inferred output shape with the batch symbol carried through when it can be.
 */
export function reshapeShape(what: string, from: Shape, target: readonly number[]): Dim[] {
  const out: Dim[] = target.map((d, i) => (d === 0 ? from[i] : d));
  const infer = out.indexOf(-1);
  if (out.filter((d) => d === -1).length > 1) throw new EngineError('ENGINE_SHAPE', `${what}: more than one -1 in ${shapeStr(target)}`);
  const known = out.filter((d): d is number => typeof d === 'number' && d !== -1).reduce((a, b) => a * b, 1);
  // Split the input's size into its numeric part and its symbols, and cancel the symbols that the
  // output copies through with 0.
  const syms = from.filter((d): d is string => typeof d === 'string');
  for (const d of out) if (typeof d === 'string') syms.splice(syms.indexOf(d), 1);
  const numeric = from.filter((d): d is number => typeof d === 'number').reduce((a, b) => a * b, 1);
  if (infer >= 0) {
    if (numeric % known !== 0) throw new EngineError('ENGINE_SHAPE', `${what}: cannot reshape ${shapeStr(from)} to ${shapeStr(target)}`);
    const ratio = numeric / known;
    if (syms.length === 0) out[infer] = ratio;
    else if (syms.length === 1 && ratio === 1) out[infer] = syms[0];
    else out[infer] = [...syms, ...(ratio === 1 ? [] : [String(ratio)])].join('*');
  } else if (syms.length === 0 && numeric !== known) {
    throw new EngineError('ENGINE_SHAPE', `${what}: cannot reshape ${shapeStr(from)} (${numeric} values) to ${shapeStr(target)}`);
  }
  return out;
}

export function reshape(x: Value, target: readonly number[]): Value {
  return x.graph.emit1('Reshape', [x, x.graph.ints(target)], {}, x.dtype, reshapeShape('Reshape', x.shape, target));
}

function axesList(x: Value, axes: readonly number[] | undefined, what: string): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : axes.map((a) => normAxis(a, x.rank, what));
  return [...new Set(list)].sort((a, b) => a - b);
}

export function reducedShape(x: Value, axes: readonly number[], keepdims: boolean): Dim[] {
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

/** ReduceSum (axes as an input at opset 13+). `axes` undefined reduces everything. */
export function reduceSum(x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
  const list = axesList(x, axes, 'ReduceSum');
  return x.graph.emit1('ReduceSum', [x, x.graph.ints(list)], { keepdims: attr.int(keepdims ? 1 : 0) }, x.dtype, reducedShape(x, list, keepdims));
}

/** ReduceMean (axes as an attribute up to opset 17). */
export function reduceMean(x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
  const list = axesList(x, axes, 'ReduceMean');
  return x.graph.emit1('ReduceMean', [x], { axes: attr.ints(list), keepdims: attr.int(keepdims ? 1 : 0) }, x.dtype, reducedShape(x, list, keepdims));
}

/** Sum of squares of every element, as a scalar. */
export function sumSquares(x: Value): Value {
  return x.graph.emit1('ReduceSumSquare', [x], { keepdims: attr.int(0) }, x.dtype, []);
}

export function unsqueeze(x: Value, axes: readonly number[]): Value {
  const rank = x.rank + axes.length;
  const list = axes.map((a) => normAxis(a, rank, 'Unsqueeze')).sort((a, b) => a - b);
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(list.includes(i) ? 1 : x.shape[j++]);
  return x.graph.emit1('Unsqueeze', [x, x.graph.ints(list)], {}, x.dtype, out);
}

export function squeeze(x: Value, axes: readonly number[]): Value {
  const list = axes.map((a) => normAxis(a, x.rank, 'Squeeze'));
  return x.graph.emit1('Squeeze', [x, x.graph.ints(list)], {}, x.dtype, x.shape.filter((_, i) => !list.includes(i)));
}

export function transpose(x: Value, perm: readonly number[]): Value {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new EngineError('ENGINE_SHAPE', `Transpose: perm ${shapeStr(perm)} does not fit rank ${x.rank}`);
  }
  return x.graph.emit1('Transpose', [x], { perm: attr.ints(perm) }, x.dtype, perm.map((p) => x.shape[p]));
}

/** Swaps the last two axes. */
export function transposeLast2(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

export function matmulShape(a: Shape, b: Shape): Dim[] {
  if (a.length < 2 || b.length < 2) throw new EngineError('ENGINE_SHAPE', `MatMul: operands must have rank >= 2, got ${shapeStr(a)} and ${shapeStr(b)}`);
  const k1 = a[a.length - 1];
  const k2 = b[b.length - 2];
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new EngineError('ENGINE_SHAPE', `MatMul: inner dims differ in ${shapeStr(a)} x ${shapeStr(b)}`);
  }
  const batch = broadcastShapes('MatMul', a.slice(0, -2), b.slice(0, -2));
  return [...batch, a[a.length - 2], b[b.length - 1]];
}

export function matmul(a: Value, b: Value): Value {
  const t = sameType('MatMul', [a, b]);
  return a.graph.emit1('MatMul', [a, b], {}, t, matmulShape(a.shape, b.shape));
}

/** Sum of several same-shaped tensors (gradient accumulation). */
export function sumAll(vs: readonly Value[]): Value {
  if (vs.length === 1) return vs[0];
  const t = sameType('Sum', vs);
  return vs[0].graph.emit1('Sum', vs, {}, t, broadcastShapes('Sum', ...vs.map((v) => v.shape)));
}

/** Static Slice on one or more axes (step 1). */
export function slice(x: Value, starts: readonly number[], ends: readonly number[], axes: readonly number[]): Value {
  const g = x.graph;
  const out = [...x.shape];
  axes.forEach((a, i) => {
    const d = x.shape[a];
    if (typeof d !== 'number') throw new EngineError('ENGINE_SHAPE', `Slice: axis ${a} of ${x.name} is symbolic`);
    out[a] = ends[i] - starts[i];
  });
  return g.emit1('Slice', [x, g.ints(starts), g.ints(ends), g.ints(axes)], {}, x.dtype, out);
}

/** Constant zero padding; `pads` is ONNX's [begin..., end...]. */
export function pad(x: Value, pads: readonly number[]): Value {
  const r = x.rank;
  const out = x.shape.map((d, i) => (typeof d === 'number' ? d + pads[i] + pads[i + r] : d));
  return x.graph.emit1('Pad', [x, x.graph.ints(pads)], { mode: attr.string('constant') }, x.dtype, out);
}

/**
 * Sums a gradient back to the shape of a broadcast input: over the leading axes the input
 * lacks and over the axes where it had size 1.
 */
export function reduceTo(grad: Value, shape: Shape): Value {
  const lead = grad.rank - shape.length;
  if (lead < 0) throw new EngineError('ENGINE_SHAPE', `gradient ${shapeStr(grad.shape)} has lower rank than its input ${shapeStr(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return grad;
  let r = reduceSum(grad, axes, true);
  if (lead > 0) r = squeeze(r, axes.filter((a) => a < lead));
  return r;
}

/** Number of elements of x as a scalar of x's float type, known at run time. */
export function countOf(x: Value): Value {
  const n = numel(x.shape);
  if (n !== undefined) return x.graph.scalar(n, x.dtype);
  return cast(x.graph.emit1('Size', [x], {}, 'int64', []), x.dtype);
}
