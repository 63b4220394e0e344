import { EngineError } from '../errors.js';
import * as e from '../emit.js';
import { attr, type Value } from '../graph.js';
import { apply, defineOp } from '../op.js';
import { broadcastShapes, normAxis, shapeStr, type Dim } from '../shape.js';

/** Ops that move data without arithmetic. Their gradients move it back. */

/** Reshape to a static target (-1 infers one dim, 0 copies the input's); dx = reshape(dy, shape(x)). */
const reshapeOp = defineOp<{ shape: number[] }>({
  name: 'Reshape',
  forward: (_g, [x], { shape }) => ({ outputs: [e.reshape(x, shape)], saved: undefined }),
  backward: ({ inputs: [x] }, [dy]) => [dy === null ? null : e.reshapeLike(dy, x)],
});
export const reshape = (x: Value, shape: readonly number[]): Value => apply(reshapeOp, [x], { shape: [...shape] })[0];

/** Flatten to [prod(dims before axis), prod(dims from axis)]. */
const flattenOp = defineOp<{ axis: number }>({
  name: 'Flatten',
  forward: (g, [x], { axis }) => {
    const prod = (ds: readonly Dim[]): Dim => {
      const syms = ds.filter((d) => typeof d === 'string');
      const n = ds.filter((d): d is number => typeof d === 'number').reduce((a, b) => a * b, 1);
      if (syms.length === 0) return n;
      return syms.length === 1 && n === 1 ? syms[0] : [...syms, ...(n === 1 ? [] : [String(n)])].join('*');
    };
    const out = [prod(x.shape.slice(0, axis)), prod(x.shape.slice(axis))];
    return { outputs: [g.emit1('Flatten', [x], { axis: attr.int(axis) }, x.dtype, out)], saved: undefined };
  },
  backward: ({ inputs: [x] }, [dy]) => [dy === null ? null : e.reshapeLike(dy, x)],
});
export const flatten = (x: Value, axis = 1): Value => apply(flattenOp, [x], { axis: axis < 0 ? axis + x.rank : axis })[0];

/** Transpose; dx = transpose(dy, inverse(perm)). */
const transposeOp = defineOp<{ perm: number[] }>({
  name: 'Transpose',
  forward: (_g, [x], { perm }) => ({ outputs: [e.transpose(x, perm)], saved: undefined }),
  backward: ({ attrs: { perm } }, [dy]) => [dy === null ? null : e.transpose(dy, perm.map((_, i) => perm.indexOf(i)))],
});
export const transpose = (x: Value, perm?: readonly number[]): Value =>
  apply(transposeOp, [x], { perm: perm === undefined ? x.shape.map((_, i) => x.rank - 1 - i) : [...perm] })[0];

/** Concat along a static axis; each input's gradient is its slice of dy. */
const concatOp = defineOp<{ axis: number }>({
  name: 'Concat',
  forward: (g, xs, { axis }) => {
    const t = xs[0].dtype;
    let total = 0;
    for (const x of xs) {
      const d = x.shape[axis];
      if (x.dtype !== t || x.rank !== xs[0].rank) throw new EngineError('ENGINE_SHAPE', `Concat: inputs differ in type or rank`);
      if (typeof d !== 'number') throw new EngineError('ENGINE_SHAPE', `Concat: axis ${axis} of ${x.name} is symbolic`);
      total += d;
    }
    // The other axes must agree; broadcastShapes checks them (with the concat axis set to 1).
    const others = broadcastShapes('Concat', ...xs.map((x) => x.shape.map((d, i) => (i === axis ? 1 : d))));
    const out = others.map((d, i) => (i === axis ? total : d));
    return { outputs: [g.emit1('Concat', xs, { axis: attr.int(axis) }, t, out)], saved: undefined };
  },
  backward: ({ inputs, attrs: { axis } }, [dy], needs) => {
    let start = 0;
    return inputs.map((x, i) => {
      const len = x.shape[axis] as number;
      const grad = dy !== null && needs[i] ? e.slice(dy, [start], [start + len], [axis]) : null;
      start += len;
      return grad;
    });
  },
});
export function concat(xs: readonly Value[], axis: number): Value {
  if (xs.length === 0) throw new EngineError('ENGINE_OP', 'Concat: no inputs');
  return apply(concatOp, xs, { axis: normAxis(axis, xs[0].rank, 'Concat') })[0];
}

/**
 * Slice with step 1 on static axes, bounds clamped like ONNX's. The gradient pads dy with
 * zeros back to the input's shape.
 */
const sliceOp = defineOp<{ starts: number[]; ends: number[]; axes: number[] }>({
  name: 'Slice',
  forward: (_g, [x], { starts, ends, axes }) => ({ outputs: [e.slice(x, starts, ends, axes)], saved: undefined }),
  backward: ({ inputs: [x], attrs: { starts, ends, axes } }, [dy]) => {
    if (dy === null) return [null];
    const pads = new Array<number>(2 * x.rank).fill(0);
    axes.forEach((a, i) => {
      pads[a] = starts[i];
      pads[a + x.rank] = (x.shape[a] as number) - ends[i];
    });
    return [e.pad(dy, pads)];
  },
});
export function slice(x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[]): Value {
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.rank, 'Slice'));
  if (starts.length !== ax.length || ends.length !== ax.length) throw new EngineError('ENGINE_SHAPE', 'Slice: starts, ends and axes differ in length');
  const s: number[] = [];
  const en: number[] = [];
  ax.forEach((a, i) => {
    const d = x.shape[a];
    if (typeof d !== 'number') throw new EngineError('ENGINE_SHAPE', `Slice: axis ${a} of ${x.name} is symbolic`);
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    s.push(clamp(starts[i]));
    en.push(Math.max(clamp(ends[i]), clamp(starts[i])));
  });
  return apply(sliceOp, [x], { starts: s, ends: en, axes: ax })[0];
}

/**
 * Gather along axis 0 (an embedding lookup: table [V, D], int64 indices of any shape). The
 * gradient scatter-adds dy into zeros shaped like the table (ScatterND, reduction='add', opset
 * 16), so repeated indices accumulate.
 */
const gatherOp = defineOp<Record<string, never>>({
  name: 'Gather',
  forward: (g, [table, indices]) => {
    e.expectFloat('Gather', table);
    if (indices.dtype !== 'int64') throw new EngineError('ENGINE_SHAPE', `Gather: indices ${indices.name} must be int64`);
    const out = [...indices.shape, ...table.shape.slice(1)];
    return { outputs: [g.emit1('Gather', [table, indices], { axis: attr.int(0) }, table.dtype, out)], saved: undefined };
  },
  backward: ({ inputs: [table, indices] }, [dy], needs) => {
    if (dy === null || !needs[0]) return [null, null];
    const idx = e.unsqueeze(indices, [-1]);
    const dt = table.graph.emit1('ScatterND', [e.zerosLike(table), idx, dy], { reduction: attr.string('add') }, table.dtype, table.shape);
    return [dt, null];
  },
});
export function gather(table: Value, indices: Value): Value {
  if (table.rank < 1) throw new EngineError('ENGINE_SHAPE', `Gather: table ${shapeStr(table.shape)} has no axis 0`);
  return apply(gatherOp, [table, indices], {})[0];
}
