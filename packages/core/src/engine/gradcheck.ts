import type * as ort from 'onnxruntime-node';
import { gradients } from './autodiff.js';
import { isFloat, type FloatType } from './dtype.js';
import { EngineError } from './errors.js';
import { Graph, type Value } from './graph.js';
import { createSession, runSession, toTensor, type TensorData } from './session.js';

/**
 * Gradient checking: compares the gradients autodiff emits with central finite differences of
 * the forward graph, both run in onnxruntime. The scalar checked is L = sum(R * f(inputs)) with
 * a fixed random cotangent R, so every element of every output counts.
 */

export interface GradCheckInput {
  readonly value: Value;
  readonly data: TensorData;
  /** Concrete dims for this run (the value's shape may have a symbolic batch). */
  readonly dims: readonly number[];
  /** Whether to check this input's gradient; default: when it is a float tensor. */
  readonly check?: boolean;
}

export interface GradCheckOptions {
  dtype: FloatType;
  /** Finite-difference step; default 1e-5 for float64, 1e-2 for float32. */
  eps?: number;
  /** Seed of the cotangent R. */
  seed?: number;
  /**
   * Floor of the relative error's denominator: |a - n| / max(|a|, |n|, floor). Keeps an element
   * whose true gradient is ~0 from dividing rounding noise by ~0. Default 1e-6.
   */
  floor?: number;
}

export interface GradCheckResult {
  /** Largest relative error over every checked element. */
  readonly maxRelError: number;
  readonly perInput: Readonly<Record<string, number>>;
  /** Number of elements compared. */
  readonly elements: number;
}

export async function gradCheck(build: (g: Graph) => { inputs: GradCheckInput[]; output: Value }, opts: GradCheckOptions): Promise<GradCheckResult> {
  const g = new Graph({ dtype: opts.dtype, name: 'gradcheck' });
  const { inputs, output } = build(g);
  const eps = opts.eps ?? (opts.dtype === 'float64' ? 1e-5 : 1e-2);
  const floor = opts.floor ?? 1e-6;
  const checked = inputs.filter((i) => (i.check ?? isFloat(i.value.dtype)) && isFloat(i.value.dtype));
  if (checked.length === 0) throw new EngineError('ENGINE_GRAPH', 'gradCheck: nothing to check');

  const feeds: Record<string, ort.Tensor> = {};
  for (const i of inputs) feeds[i.value.name] = toTensor(i.value.dtype, i.data, i.dims);

  // Forward model first: it gives the output's concrete dims, hence R.
  const forward = await createSession(g.toModel({ outputs: [['out', output]] }).bytes, { intraOpThreads: 1 });
  const first = await runSession(forward, feeds);
  const outDims = first.out.dims;
  const n = outDims.reduce((a, b) => a * b, 1);
  const r = new Float64Array(n);
  let state = (opts.seed ?? 1) >>> 0 || 1;
  for (let k = 0; k < n; k++) {
    // xorshift32, mapped to [-1, 1): a cotangent needs no better randomness than this.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    r[k] = state / 2 ** 31 - 1;
  }
  const loss = (t: ort.Tensor): number => {
    const d = t.data as Float32Array | Float64Array;
    let s = 0;
    for (let k = 0; k < n; k++) s += r[k] * d[k];
    return s;
  };

  // Analytic: the vector-Jacobian product with R as the seed.
  const cot = g.input('gradcheck.cotangent', output.shape);
  const grads = gradients(output, checked.map((i) => i.value), cot);
  const outs: [string, Value][] = [];
  grads.forEach((d, k) => {
    if (d === null) throw new EngineError('ENGINE_GRAPH', `gradCheck: no gradient reaches ${checked[k].value.name}`);
    outs.push([`grad.${k}`, d]);
  });
  const backward = await createSession(g.toModel({ outputs: outs }).bytes, { intraOpThreads: 1 });
  const rTyped = opts.dtype === 'float64' ? r : Float32Array.from(r);
  const analytic = await runSession(backward, { ...feeds, 'gradcheck.cotangent': toTensor(opts.dtype, rTyped, outDims) });
  // The VJP used R rounded to the graph's type; the finite differences use the same values.
  for (let k = 0; k < n; k++) r[k] = rTyped[k];

  const perInput: Record<string, number> = {};
  let maxRel = 0;
  let elements = 0;
  for (const [k, inp] of checked.entries()) {
    const a = analytic[`grad.${k}`].data as Float32Array | Float64Array;
    const x = inp.data as Float32Array | Float64Array;
    if (a.length !== x.length) throw new EngineError('ENGINE_SHAPE', `gradCheck: gradient of ${inp.value.name} has ${a.length} values, input ${x.length}`);
    let worst = 0;
    for (let j = 0; j < x.length; j++) {
      const orig = x[j];
      x[j] = orig + eps;
      const xp = x[j]; // the value actually stored (rounded in float32)
      const lp = loss((await runSession(forward, feeds)).out);
      x[j] = orig - eps;
      const xm = x[j];
      const lm = loss((await runSession(forward, feeds)).out);
      x[j] = orig;
      const numeric = (lp - lm) / (xp - xm);
      const rel = Math.abs(a[j] - numeric) / Math.max(Math.abs(a[j]), Math.abs(numeric), floor);
      if (!(rel <= worst)) worst = rel; // NaN counts as the worst
      elements++;
    }
    perInput[inp.value.name] = worst;
    if (!(worst <= maxRel)) maxRel = worst;
  }
  return { maxRelError: maxRel, perInput, elements };
}
