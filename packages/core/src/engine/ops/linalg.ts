import { EngineError } from '../errors.js';
import * as e from '../emit.js';
import { attr, type Value } from '../graph.js';
import { apply, defineOp } from '../op.js';
import { broadcastShapes, shapeStr, type Dim } from '../shape.js';

type None = Record<string, never>;

/**
 * MatMul with numpy semantics for rank >= 2. da = dy . b^T and db = a^T . dy, summed over
 * broadcast batch axes. When b is a plain matrix and a is batched (a linear layer on a
 * sequence), db folds the batch into rows: one big MatMul instead of a batch then a sum.
 */
const matmulOp = defineOp<None>({
  name: 'MatMul',
  forward: (_g, [a, b]) => {
    e.expectFloat('MatMul', a, b);
    return { outputs: [e.matmul(a, b)], saved: undefined };
  },
  backward: ({ inputs: [a, b] }, [dy], needs) => {
    if (dy === null) return [null, null];
    const da = needs[0] ? e.reduceTo(e.matmul(dy, e.transposeLast2(b)), a.shape) : null;
    let db: Value | null = null;
    if (needs[1]) {
      if (b.rank === 2 && a.rank > 2) {
        const k = a.shape[a.rank - 1] as number;
        const n = b.shape[1] as number;
        db = e.matmul(e.transposeLast2(e.reshape(a, [-1, k])), e.reshape(dy, [-1, n]));
      } else {
        db = e.reduceTo(e.matmul(e.transposeLast2(a), dy), b.shape);
      }
    }
    return [da, db];
  },
});
export const matmul = (a: Value, b: Value): Value => apply(matmulOp, [a, b], {})[0];

export interface GemmAttrs {
  alpha?: number;
  beta?: number;
  transA?: boolean;
  transB?: boolean;
}

function gemmRaw(a: Value, b: Value, c: Value | null, alpha: number, beta: number, transA: boolean, transB: boolean): Value {
  if (a.rank !== 2 || b.rank !== 2) throw new EngineError('ENGINE_SHAPE', `Gemm: operands must be matrices, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const [m, ka] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) {
    throw new EngineError('ENGINE_SHAPE', `Gemm: inner dims differ (${ka} and ${kb})`);
  }
  const out: Dim[] = [m, n];
  if (c !== null) broadcastShapes('Gemm', out, c.shape); // C must broadcast to [M, N]
  const attrs = {
    alpha: attr.float(alpha),
    beta: attr.float(beta),
    transA: attr.int(transA ? 1 : 0),
    transB: attr.int(transB ? 1 : 0),
  };
  return a.graph.emit1('Gemm', c === null ? [a, b] : [a, b, c], attrs, a.dtype, out);
}

/**
 * Gemm: y = alpha * A' . B' + beta * C, where A' is A or its transpose (transA), likewise B'.
 * Each gradient is one more Gemm with the transposes chosen so no Transpose node is needed:
 *   dA' = alpha * dy . B'^T   and   dB' = alpha * A'^T . dy,   dC = beta * dy summed to C.
 */
const gemmOp = defineOp<Required<GemmAttrs>>({
  name: 'Gemm',
  forward: (_g, [a, b, c], { alpha, beta, transA, transB }) => {
    e.expectFloat('Gemm', a, b, ...(c === undefined ? [] : [c]));
    return { outputs: [gemmRaw(a, b, c ?? null, alpha, beta, transA, transB)], saved: undefined };
  },
  backward: ({ inputs: [a, b, c], attrs: { alpha, beta, transA, transB } }, [dy], needs) => {
    if (dy === null) return [null, null, null];
    let da: Value | null = null;
    let db: Value | null = null;
    if (needs[0]) {
      // transA = 0: dA = dy . B'^T;  transA = 1: dA = (dy . B'^T)^T = B' . dy^T.
      da = transA ? gemmRaw(b, dy, null, alpha, 0, transB, true) : gemmRaw(dy, b, null, alpha, 0, false, !transB);
    }
    if (needs[1]) {
      // transB = 0: dB = A'^T . dy;  transB = 1: dB = dy^T . A'.
      db = transB ? gemmRaw(dy, a, null, alpha, 0, true, transA) : gemmRaw(a, dy, null, alpha, 0, !transA, false);
    }
    // ONNX float attributes are float32: scale by the beta the forward actually used.
    const dc = c !== undefined && needs[2] ? e.reduceTo(e.scale(dy, Math.fround(beta)), c.shape) : null;
    return c === undefined ? [da, db] : [da, db, dc];
  },
});

export function gemm(a: Value, b: Value, c?: Value, attrs: GemmAttrs = {}): Value {
  const full: Required<GemmAttrs> = { alpha: attrs.alpha ?? 1, beta: attrs.beta ?? 1, transA: attrs.transA ?? false, transB: attrs.transB ?? false };
  return apply(gemmOp, c === undefined ? [a, b] : [a, b, c], full)[0];
}
