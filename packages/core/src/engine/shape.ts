import { EngineError } from './errors.js';

/**
 * Static shapes. Every dimension is known when the graph is built except the batch, which
 * is a named symbol (ONNX dim_param), so one session serves every batch size.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** The symbolic batch dimension used by the models and the training graphs. */
export const BATCH = 'N';

export function shapeStr(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/** Product of the dims, or undefined when one is symbolic. */
export function numel(s: Shape): number | undefined {
  let n = 1;
  for (const d of s) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new EngineError('ENGINE_SHAPE', `${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Dims that may be equal at run time: equal, or one of them symbolic. */
export function compatibleDim(a: Dim, b: Dim): boolean {
  return a === b || typeof a === 'string' || typeof b === 'string';
}

/**
 * Numpy broadcasting over static-or-symbolic dims. A symbol against a number other than 1 is
 * taken to be that number (onnxruntime checks it at run time).
 */
export function broadcastShapes(what: string, ...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const e = s[i - (rank - s.length)];
      if (e === undefined || e === 1) continue;
      if (d === 1 || d === e) d = e;
      else if (typeof d === 'number' && typeof e === 'number') {
        throw new EngineError('ENGINE_SHAPE', `${what}: cannot broadcast ${shapes.map(shapeStr).join(' with ')}`);
      } else if (typeof d === 'string') d = e; // the number pins the symbol
    }
    out.push(d);
  }
  return out;
}
