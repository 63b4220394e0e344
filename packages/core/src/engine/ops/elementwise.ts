import { EngineError } from '../errors.js';
import * as e from '../emit.js';
import type { Value } from '../graph.js';
import { apply, defineOp, type OpDef } from '../op.js';

/** Element-wise ops. Binary ones broadcast; their gradients are summed back over broadcast axes. */

type None = Record<string, never>;
const none: None = {};

function unaryOp(name: string, fwd: (x: Value) => Value, grad: (x: Value, y: Value, dy: Value) => Value): OpDef<None> {
  return defineOp<None>({
    name,
    forward: (_g, [x]) => {
      e.expectFloat(name, x);
      return { outputs: [fwd(x)], saved: undefined };
    },
    backward: ({ inputs: [x], outputs: [y] }, [dy]) => [dy === null ? null : grad(x, y, dy)],
  });
}

function binaryOp(
  name: 'Add' | 'Sub' | 'Mul' | 'Div',
  grads: (a: Value, b: Value, y: Value, dy: Value, needs: readonly boolean[]) => [Value | null, Value | null],
): OpDef<None> {
  return defineOp<None>({
    name,
    forward: (_g, [a, b]) => {
      e.expectFloat(name, a, b);
      return { outputs: [e.binary(name, a, b)], saved: undefined };
    },
    backward: ({ inputs: [a, b], outputs: [y] }, [dy], needs) => {
      if (dy === null) return [null, null];
      const [da, db] = grads(a, b, y, dy, needs);
      return [da === null ? null : e.reduceTo(da, a.shape), db === null ? null : e.reduceTo(db, b.shape)];
    },
  });
}

const addOp = binaryOp('Add', (_a, _b, _y, dy) => [dy, dy]);
const subOp = binaryOp('Sub', (_a, _b, _y, dy, needs) => [dy, needs[1] ? e.unary('Neg', dy) : null]);
const mulOp = binaryOp('Mul', (a, b, _y, dy, needs) => [needs[0] ? e.mul(dy, b) : null, needs[1] ? e.mul(dy, a) : null]);
// y = a / b: da = dy / b, db = -dy * y / b.
const divOp = binaryOp('Div', (_a, b, y, dy, needs) => [
  needs[0] ? e.div(dy, b) : null,
  needs[1] ? e.unary('Neg', e.div(e.mul(dy, y), b)) : null,
]);

export const add = (a: Value, b: Value): Value => apply(addOp, [a, b], none)[0];
export const sub = (a: Value, b: Value): Value => apply(subOp, [a, b], none)[0];
export const mul = (a: Value, b: Value): Value => apply(mulOp, [a, b], none)[0];
export const div = (a: Value, b: Value): Value => apply(divOp, [a, b], none)[0];

// ReLU's mask comes from its output, which lets onnxruntime fuse Conv+Relu and Gemm+Relu.
const reluOp = unaryOp('Relu', (x) => e.unary('Relu', x), (_x, y, dy) => e.keepWhere(e.compare('Greater', y, y.graph.scalar(0, y.dtype)), dy));
const tanhOp = unaryOp('Tanh', (x) => e.unary('Tanh', x), (_x, y, dy) => e.mul(dy, e.sub(y.graph.scalar(1, y.dtype), e.mul(y, y))));
const sigmoidOp = unaryOp('Sigmoid', (x) => e.unary('Sigmoid', x), (_x, y, dy) => e.mul(dy, e.mul(y, e.sub(y.graph.scalar(1, y.dtype), y))));
const expOp = unaryOp('Exp', (x) => e.unary('Exp', x), (_x, y, dy) => e.mul(dy, y));
const logOp = unaryOp('Log', (x) => e.unary('Log', x), (x, _y, dy) => e.div(dy, x));

export const relu = (x: Value): Value => apply(reluOp, [x], none)[0];
export const tanh = (x: Value): Value => apply(tanhOp, [x], none)[0];
export const sigmoid = (x: Value): Value => apply(sigmoidOp, [x], none)[0];
export const exp = (x: Value): Value => apply(expOp, [x], none)[0];
export const log = (x: Value): Value => apply(logOp, [x], none)[0];

/**
 * Exact GELU, x * Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2. The Gelu op arrives only at
 * opset 20, so it is written with Erf (onnxruntime fuses the pattern back into one kernel).
 * Phi is saved for the gradient: d/dx = Phi(x) + x * phi(x), phi the standard normal density.
 */
const geluOp = defineOp<None, { cdf: Value }>({
  name: 'Gelu',
  forward: (g, [x]) => {
    e.expectFloat('Gelu', x);
    const erf = e.unary('Erf', e.scale(x, Math.SQRT1_2));
    const cdf = e.scale(e.add(erf, g.scalar(1, x.dtype)), 0.5);
    return { outputs: [e.mul(x, cdf)], saved: { cdf } };
  },
  backward: ({ inputs: [x], saved: { cdf } }, [dy]) => {
    if (dy === null) return [null];
    const pdf = e.scale(e.unary('Exp', e.scale(e.mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [e.mul(dy, e.add(cdf, e.mul(x, pdf)))];
  },
});
export const gelu = (x: Value): Value => apply(geluOp, [x], none)[0];

/** Where(cond, a, b) for masks; cond is bool and gets no gradient. */
const whereOp = defineOp<None>({
  name: 'Where',
  forward: (_g, [c, a, b]) => {
    e.expectFloat('Where', a, b);
    return { outputs: [e.where(c, a, b)], saved: undefined };
  },
  backward: ({ inputs: [c, a, b] }, [dy], needs) => {
    if (dy === null) return [null, null, null];
    const zero = dy.graph.scalar(0, dy.dtype);
    return [
      null,
      needs[1] ? e.reduceTo(e.where(c, dy, zero), a.shape) : null,
      needs[2] ? e.reduceTo(e.where(c, zero, dy), b.shape) : null,
    ];
  },
});
export const where = (cond: Value, a: Value, b: Value): Value => apply(whereOp, [cond, a, b], none)[0];

/**
 * Inverted dropout with the mask as a graph input: y = x * mask / (1 - ratio). The caller fills
 * the mask (0 or 1, x's float type) from a seeded generator, so a step is reproducible and the
 * same graph serves training and, with a mask of ones and ratio 0, evaluation.
 */
const dropoutOp = defineOp<{ ratio: number }>({
  name: 'Dropout',
  forward: (_g, [x, mask], { ratio }) => {
    e.expectFloat('Dropout', x, mask);
    if (!(ratio >= 0 && ratio < 1)) throw new EngineError('ENGINE_OP', `Dropout: ratio ${ratio} is not in [0, 1)`);
    return { outputs: [e.scale(e.mul(x, mask), 1 / (1 - ratio))], saved: undefined };
  },
  backward: ({ inputs: [x, mask], attrs: { ratio } }, [dy], needs) => [
    dy !== null && needs[0] ? e.reduceTo(e.scale(e.mul(dy, mask), 1 / (1 - ratio)), x.shape) : null,
    null,
  ],
});
export const dropout = (x: Value, mask: Value, ratio: number): Value => apply(dropoutOp, [x, mask], { ratio })[0];

/**
 * Fills a dropout mask: each entry is 1 with probability 1 - ratio, else 0. `uniform` is a
 * seeded generator's uniform() in [0, 1) (the kernels' Rng), so masks are reproducible.
 */
export function fillDropoutMask(out: Float32Array | Float64Array, ratio: number, uniform: () => number): void {
  for (let i = 0; i < out.length; i++) out[i] = uniform() < ratio ? 0 : 1;
}
