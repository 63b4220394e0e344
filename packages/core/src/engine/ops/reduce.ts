import { EngineError } from '../errors.js';
import * as e from '../emit.js';
import { attr, type Value } from '../graph.js';
import { apply, defineOp } from '../op.js';
import { normAxis, numel, shapeStr } from '../shape.js';

/** Reductions, softmax family, the softmax cross-entropy loss and layer normalisation. */

interface ReduceAttrs {
  axes: number[];
  keepdims: boolean;
}

function axesOf(x: Value, axes: readonly number[] | undefined, what: string): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : axes.map((a) => normAxis(a, x.rank, what));
  return [...new Set(list)].sort((a, b) => a - b);
}

/** Spreads a reduced gradient back over the reduced axes. */
function spread(dy: Value, x: Value, { axes, keepdims }: ReduceAttrs): Value {
  return e.expandLike(keepdims ? dy : e.unsqueeze(dy, axes), x);
}

const reduceSumOp = defineOp<ReduceAttrs>({
  name: 'ReduceSum',
  forward: (_g, [x], a) => {
    e.expectFloat('ReduceSum', x);
    return { outputs: [e.reduceSum(x, a.axes, a.keepdims)], saved: undefined };
  },
  backward: ({ inputs: [x], attrs }, [dy]) => [dy === null ? null : spread(dy, x, attrs)],
});
export const reduceSum = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  apply(reduceSumOp, [x], { axes: axesOf(x, axes, 'ReduceSum'), keepdims })[0];

const reduceMeanOp = defineOp<ReduceAttrs>({
  name: 'ReduceMean',
  forward: (_g, [x], a) => {
    e.expectFloat('ReduceMean', x);
    return { outputs: [e.reduceMean(x, a.axes, a.keepdims)], saved: undefined };
  },
  backward: ({ inputs: [x], outputs: [y], attrs }, [dy]) => {
    if (dy === null) return [null];
    // The count is static unless a symbolic (batch) axis is reduced; then it is Size(x)/Size(y).
    const n = numel(attrs.axes.map((a) => x.shape[a]));
    const count = n !== undefined ? x.graph.scalar(n, x.dtype) : e.div(e.countOf(x), e.countOf(y));
    return [e.div(spread(dy, x, attrs), count)];
  },
});
export const reduceMean = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  apply(reduceMeanOp, [x], { axes: axesOf(x, axes, 'ReduceMean'), keepdims })[0];

/** Softmax along one axis; dx = y * (dy - sum(dy * y)). */
const softmaxOp = defineOp<{ axis: number }>({
  name: 'Softmax',
  forward: (g, [x], { axis }) => {
    e.expectFloat('Softmax', x);
    return { outputs: [g.emit1('Softmax', [x], { axis: attr.int(axis) }, x.dtype, x.shape)], saved: undefined };
  },
  backward: ({ outputs: [y], attrs: { axis } }, [dy]) => {
    if (dy === null) return [null];
    return [e.mul(y, e.sub(dy, e.reduceSum(e.mul(dy, y), [axis], true)))];
  },
});
export const softmax = (x: Value, axis = -1): Value => apply(softmaxOp, [x], { axis: normAxis(axis, x.rank, 'Softmax') })[0];

/** LogSoftmax along one axis; dx = dy - exp(y) * sum(dy). */
const logSoftmaxOp = defineOp<{ axis: number }>({
  name: 'LogSoftmax',
  forward: (g, [x], { axis }) => {
    e.expectFloat('LogSoftmax', x);
    return { outputs: [g.emit1('LogSoftmax', [x], { axis: attr.int(axis) }, x.dtype, x.shape)], saved: undefined };
  },
  backward: ({ outputs: [y], attrs: { axis } }, [dy]) => {
    if (dy === null) return [null];
    return [e.sub(dy, e.mul(e.unary('Exp', y), e.reduceSum(dy, [axis], true)))];
  },
});
export const logSoftmax = (x: Value, axis = -1): Value => apply(logSoftmaxOp, [x], { axis: normAxis(axis, x.rank, 'LogSoftmax') })[0];

/**
 * Mean softmax cross-entropy of logits [B, C] against int64 labels [B]. Stable because it
 * goes through LogSoftmax (which subtracts the row max) and never takes log of a softmax.
 * The gradient is the classic fused one: (softmax(z) - onehot(label)) * dy / B.
 */
const softmaxCrossEntropyOp = defineOp<Record<string, never>, { logp: Value }>({
  name: 'SoftmaxCrossEntropy',
  forward: (g, [z, labels]) => {
    e.expectFloat('SoftmaxCrossEntropy', z);
    if (z.rank !== 2 || labels.rank !== 1 || labels.dtype !== 'int64') {
      throw new EngineError('ENGINE_SHAPE', `SoftmaxCrossEntropy: want logits [B, C] and int64 labels [B], got ${z} and ${labels}`);
    }
    const logp = g.emit1('LogSoftmax', [z], { axis: attr.int(1) }, z.dtype, z.shape);
    const picked = g.emit1('GatherElements', [logp, e.unsqueeze(labels, [1])], { axis: attr.int(1) }, z.dtype, [z.shape[0], 1]);
    const loss = e.unary('Neg', e.reduceMean(picked, undefined, false));
    return { outputs: [loss], saved: { logp } };
  },
  backward: ({ inputs: [z, labels], saved: { logp } }, [dy], needs) => {
    if (dy === null || !needs[0]) return [null, null];
    const g = z.graph;
    const classes = z.shape[1];
    if (typeof classes !== 'number') throw new EngineError('ENGINE_SHAPE', 'SoftmaxCrossEntropy: the class axis must be static');
    const range = g.ints(Array.from({ length: classes }, (_, i) => i));
    const onehot = e.cast(e.compare('Equal', e.unsqueeze(labels, [1]), range), z.dtype);
    const batch = e.cast(e.shapeOf(z, 0, 1), z.dtype); // [1], the run-time batch size
    return [e.mul(e.sub(e.unary('Exp', logp), onehot), e.div(dy, batch)), null];
  },
});
export const softmaxCrossEntropy = (logits: Value, labels: Value): Value => apply(softmaxCrossEntropyOp, [logits, labels], {})[0];

/**
 * LayerNormalization (opset 17) over the axes from `axis` to the end, with scale and bias of
 * those axes' shape. onnxruntime's kernel runs the forward; the backward recomputes mean and
 * 1/std in the graph's own type rather than taking the op's optional Mean/InvStdDev outputs,
 * whose type follows stash_type (float32 by default) and would cap a float64 check. With
 * xhat = (x - mean) / std and gx = dy * scale:
 *   dx = (gx - mean(gx) - xhat * mean(gx * xhat)) / std,  dscale = sum(dy * xhat),  dbias = sum(dy).
 */
const layerNormOp = defineOp<{ axis: number; epsilon: number }>({
  name: 'LayerNormalization',
  forward: (g, [x, scale, bias], { axis, epsilon }) => {
    e.expectFloat('LayerNormalization', x, scale, ...(bias === undefined ? [] : [bias]));
    const norm = x.shape.slice(axis);
    if (scale.rank !== norm.length || scale.shape.some((d, i) => d !== norm[i])) {
      throw new EngineError('ENGINE_SHAPE', `LayerNormalization: scale ${shapeStr(scale.shape)} must be ${shapeStr(norm)}`);
    }
    const attrs = { axis: attr.int(axis), epsilon: attr.float(epsilon) };
    return { outputs: [g.emit1('LayerNormalization', bias === undefined ? [x, scale] : [x, scale, bias], attrs, x.dtype, x.shape)], saved: undefined };
  },
  backward: ({ inputs: [x, scale, bias], attrs: { axis, epsilon } }, [dy], needs) => {
    if (dy === null) return [null, null, null];
    const g = x.graph;
    const axes = x.shape.map((_, i) => i).slice(axis);
    const centred = e.sub(x, e.reduceMean(x, axes, true));
    const invStd = e.unary('Reciprocal', e.unary('Sqrt', e.add(e.reduceMean(e.mul(centred, centred), axes, true), g.scalar(epsilon, x.dtype))));
    const xhat = e.mul(centred, invStd);
    let dx: Value | null = null;
    if (needs[0]) {
      const gx = e.mul(dy, scale);
      const inner = e.sub(e.sub(gx, e.reduceMean(gx, axes, true)), e.mul(xhat, e.reduceMean(e.mul(gx, xhat), axes, true)));
      dx = e.mul(inner, invStd);
    }
    const dscale = needs[1] ? e.reduceTo(e.mul(dy, xhat), scale.shape) : null;
    const dbias = bias !== undefined && needs[2] ? e.reduceTo(dy, bias.shape) : null;
    return bias === undefined ? [dx, dscale] : [dx, dscale, dbias];
  },
});
export function layerNorm(x: Value, scale: Value, bias?: Value, opts: { axis?: number; epsilon?: number } = {}): Value {
  const axis = normAxis(opts.axis ?? -1, x.rank, 'LayerNormalization');
  return apply(layerNormOp, bias === undefined ? [x, scale] : [x, scale, bias], { axis, epsilon: opts.epsilon ?? 1e-5 })[0];
}
