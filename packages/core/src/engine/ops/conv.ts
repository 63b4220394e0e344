import { EngineError } from '../errors.js';
import * as e from '../emit.js';
import { attr, type Value } from '../graph.js';
import { apply, defineOp } from '../op.js';
import { shapeStr } from '../shape.js';

/**
 * 2-D convolution and pooling on NCHW tensors with static C, H and W (the batch may be
 * symbolic). The gradient formulations are the ones measured fast and correct on
 * onnxruntime's CPU provider (see ENVIRONMENT.md): ConvTranspose for the input gradient, a
 * Conv with batch and channel axes swapped for the weight gradient, and Resize-based masks
 * for non-overlapping max-pooling. onnxruntime has float32 kernels only for Conv,
 * ConvTranspose, AveragePool and Resize.
 */

export interface Conv2dOptions {
  strides?: readonly number[];
  /** [top, left, bottom, right], ONNX order. */
  pads?: readonly number[];
  dilations?: readonly number[];
}
interface Conv2dAttrs {
  strides: number[];
  pads: number[];
  dilations: number[];
}

function spatial(x: Value, what: string): [number, number, number] {
  const [, c, h, w] = x.shape;
  if (x.rank !== 4 || typeof c !== 'number' || typeof h !== 'number' || typeof w !== 'number') {
    throw new EngineError('ENGINE_SHAPE', `${what}: want NCHW with static C, H, W, got ${shapeStr(x.shape)}`);
  }
  return [c, h, w];
}

/** Output length of one spatial axis (ceil_mode 0). */
function outLen(what: string, len: number, k: number, s: number, d: number, p0: number, p1: number): number {
  const n = Math.floor((len + p0 + p1 - d * (k - 1) - 1) / s) + 1;
  if (n < 1) throw new EngineError('ENGINE_SHAPE', `${what}: kernel ${k} does not fit length ${len} with pads ${p0}+${p1}`);
  return n;
}

/**
 * output_padding that makes a ConvTranspose give back the forward input length exactly:
 * len - ((out - 1) * s + d * (k - 1) + 1 - p0 - p1), always < s because the forward floors.
 */
function outputPadding(len: number, out: number, k: number, s: number, d: number, p0: number, p1: number): number {
  return len - ((out - 1) * s + d * (k - 1) + 1 - p0 - p1);
}

function fullConvAttrs(o: Conv2dOptions): Conv2dAttrs {
  return { strides: [...(o.strides ?? [1, 1])], pads: [...(o.pads ?? [0, 0, 0, 0])], dilations: [...(o.dilations ?? [1, 1])] };
}

const conv2dOp = defineOp<Conv2dAttrs>({
  name: 'Conv',
  forward: (g, [x, w, b], { strides, pads, dilations }) => {
    e.expectFloat('Conv', x, w, ...(b === undefined ? [] : [b]));
    const [c, h, wd] = spatial(x, 'Conv');
    const [m, cw, kh, kw] = w.shape as number[];
    if (w.rank !== 4 || cw !== c) throw new EngineError('ENGINE_SHAPE', `Conv: weight ${shapeStr(w.shape)} does not fit input ${shapeStr(x.shape)}`);
    if (b !== undefined && (b.rank !== 1 || b.shape[0] !== m)) throw new EngineError('ENGINE_SHAPE', `Conv: bias ${shapeStr(b.shape)} must be [${m}]`);
    const ho = outLen('Conv', h, kh, strides[0], dilations[0], pads[0], pads[2]);
    const wo = outLen('Conv', wd, kw, strides[1], dilations[1], pads[1], pads[3]);
    const attrs = { kernel_shape: attr.ints([kh, kw]), strides: attr.ints(strides), pads: attr.ints(pads), dilations: attr.ints(dilations) };
    const y = g.emit1('Conv', b === undefined ? [x, w] : [x, w, b], attrs, x.dtype, [x.shape[0], m, ho, wo]);
    return { outputs: [y], saved: undefined };
  },
  backward: ({ inputs: [x, w, b], outputs: [y], attrs: { strides, pads, dilations } }, [dy], needs) => {
    if (dy === null) return [null, null, null];
    const a = { strides, pads, dilations };
    const unitStride = strides[0] === 1 && strides[1] === 1;
    let dx: Value | null = null;
    if (needs[0]) dx = (unitStride ? inputGradFlipped(x, w, dy, a) : null) ?? inputGradTransposed(x, w, y, dy, a);
    let dw: Value | null = null;
    if (needs[1]) dw = unitStride ? weightGradIm2col(x, w, y, dy, a) : weightGradSwapped(x, w, y, dy, a);
    const db = b !== undefined && needs[2] ? e.reduceSum(dy, [0, 2, 3], false) : null;
    return b === undefined ? [dx, dw] : [dx, dw, db];
  },
});

/*
 * Conv's gradient rules. The forms were chosen by timing the FedAvg CNN's second layer
 * (batch 64, 32 -> 64 channels, 5x5 on 14x14) on onnxruntime's CPU provider with 2 threads:
 *  - input gradient, stride 1: a plain Conv of dy with the kernel transposed and flipped
 *    (12.5 ms) beats ConvTranspose (12-18 ms); ConvTranspose stays for strides > 1;
 *  - weight gradient, stride 1: im2col by Pad + k*k Slices + Concat, then one Gemm (15 ms)
 *    beats a Conv of x and dy with batch and channel axes swapped (22-25 ms), whose tiny
 *    5x5 output makes onnxruntime run 32 thin GEMMs; the swapped Conv stays for strides > 1.
 * With both (and ReLU after the pools, see models.ts) a whole CNN training step went from
 * 62-67 ms to 53-56 ms at batch 64.
 * The im2col buffer holds C*kh*kw*N*Ho*Wo values (40 MB at batch 64 for that layer).
 */

/** dx for stride 1: y = x (*) w is also dx = dy (*) flip(w^T) with pads (k-1)*d - p. Null when a pad would be negative. */
function inputGradFlipped(x: Value, w: Value, dy: Value, { pads, dilations }: Conv2dAttrs): Value | null {
  const g = x.graph;
  const [, , kh, kw] = w.shape as number[];
  const fullH = (kh - 1) * dilations[0];
  const fullW = (kw - 1) * dilations[1];
  const flippedPads = [fullH - pads[0], fullW - pads[1], fullH - pads[2], fullW - pads[3]];
  if (flippedPads.some((p) => p < 0)) return null;
  const wt = e.transpose(w, [1, 0, 2, 3]);
  // Slice with step -1 reverses both kernel axes; an end of -(k+1) runs through index 0.
  const flipped = g.emit1('Slice', [wt, g.ints([kh - 1, kw - 1]), g.ints([-kh - 1, -kw - 1]), g.ints([2, 3]), g.ints([-1, -1])], {}, w.dtype, wt.shape);
  const attrs = { kernel_shape: attr.ints([kh, kw]), pads: attr.ints(flippedPads), dilations: attr.ints(dilations) };
  return g.emit1('Conv', [dy, flipped], attrs, x.dtype, x.shape);
}

/** dx for any stride: ConvTranspose(dy, w) with output_padding that restores the input size. */
function inputGradTransposed(x: Value, w: Value, y: Value, dy: Value, { strides, pads, dilations }: Conv2dAttrs): Value {
  const [, h, wd] = spatial(x, 'Conv');
  const [, , kh, kw] = w.shape as number[];
  const outPad = [
    outputPadding(h, y.shape[2] as number, kh, strides[0], dilations[0], pads[0], pads[2]),
    outputPadding(wd, y.shape[3] as number, kw, strides[1], dilations[1], pads[1], pads[3]),
  ];
  const attrs = {
    kernel_shape: attr.ints([kh, kw]),
    strides: attr.ints(strides),
    pads: attr.ints(pads),
    dilations: attr.ints(dilations),
    output_padding: attr.ints(outPad),
  };
  return x.graph.emit1('ConvTranspose', [dy, w], attrs, x.dtype, x.shape);
}

/**
 * dW for stride 1: dW[m, (c,i,j)] = sum over (n,p,q) of dy[m, (n,p,q)] * cols[(c,i,j), (n,p,q)],
 * where cols stacks the kh*kw shifted windows of the padded input, laid out channel-major so
 * that no large transpose is needed: Gemm(dy^T, cols, transB).
 */
function weightGradIm2col(x: Value, w: Value, y: Value, dy: Value, { pads, dilations }: Conv2dAttrs): Value {
  const g = x.graph;
  const [c] = spatial(x, 'Conv');
  const [m, , kh, kw] = w.shape as number[];
  const [ho, wo] = [y.shape[2] as number, y.shape[3] as number];
  let xt = e.transpose(x, [1, 0, 2, 3]); // [C, N, H, W]
  if (pads.some((p) => p !== 0)) xt = e.pad(xt, [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]]);
  const windows: Value[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const [si, sj] = [i * dilations[0], j * dilations[1]];
      windows.push(e.slice(xt, [si, sj], [si + ho, sj + wo], [2, 3])); // [C, N, Ho, Wo]
    }
  }
  // Shapes past this point carry the batch only as a label: the static checks need just C, M, kh, kw.
  const n = String(x.shape[0]);
  const stacked = windows.length === 1 ? windows[0] : g.emit1('Concat', windows, { axis: attr.int(1) }, x.dtype, [c, `${n}*${kh * kw}`, ho, wo]);
  const cols = g.emit1('Reshape', [stacked, g.ints([c * kh * kw, -1])], {}, x.dtype, [c * kh * kw, `${n}*${ho * wo}`]);
  const dyt = g.emit1('Reshape', [e.transpose(dy, [1, 0, 2, 3]), g.ints([m, -1])], {}, x.dtype, [m, `${n}*${ho * wo}`]);
  const gw = g.emit1('Gemm', [dyt, cols], { transB: attr.int(1) }, x.dtype, [m, c * kh * kw]);
  return e.reshape(gw, [m, c, kh, kw]);
}

/**
 * dW for any stride: dW[m,c,i,j] = sum over n,p,q of dy[n,m,p,q] * x[n,c,p*s+i*d,q*s+j*d], a Conv
 * over x with batch and channels swapped, dy as the kernel, stride and dilation exchanged.
 */
function weightGradSwapped(x: Value, w: Value, y: Value, dy: Value, { strides, pads, dilations }: Conv2dAttrs): Value {
  const g = x.graph;
  const [c, h, wd] = spatial(x, 'Conv');
  const [m, , kh, kw] = w.shape as number[];
  const [ho, wo] = [y.shape[2] as number, y.shape[3] as number];
  const xt = e.transpose(x, [1, 0, 2, 3]);
  const dyt = e.transpose(dy, [1, 0, 2, 3]);
  const kh2 = outLen('Conv', h, ho, dilations[0], strides[0], pads[0], pads[2]);
  const kw2 = outLen('Conv', wd, wo, dilations[1], strides[1], pads[1], pads[3]);
  const attrs = { strides: attr.ints(dilations), dilations: attr.ints(strides), pads: attr.ints(pads) };
  let gw = e.transpose(g.emit1('Conv', [xt, dyt], attrs, x.dtype, [c, m, kh2, kw2]), [1, 0, 2, 3]);
  if (kh2 !== kh || kw2 !== kw) gw = e.slice(gw, [0, 0], [kh, kw], [2, 3]);
  return gw;
}

/** 2-D convolution: x [N, C, H, W], w [M, C, kh, kw], optional bias [M]. */
export function conv2d(x: Value, w: Value, b?: Value, opts: Conv2dOptions = {}): Value {
  return apply(conv2dOp, b === undefined ? [x, w] : [x, w, b], fullConvAttrs(opts))[0];
}

export interface PoolOptions {
  kernel: readonly number[];
  /** Defaults to the kernel (non-overlapping windows). */
  strides?: readonly number[];
  pads?: readonly number[];
}
interface PoolAttrs {
  kernel: number[];
  strides: number[];
  pads: number[];
}
function fullPoolAttrs(o: PoolOptions): PoolAttrs {
  return { kernel: [...o.kernel], strides: [...(o.strides ?? o.kernel)], pads: [...(o.pads ?? [0, 0, 0, 0])] };
}
function poolShape(what: string, x: Value, { kernel, strides, pads }: PoolAttrs): [number, number] {
  const [, h, w] = spatial(x, what);
  return [outLen(what, h, kernel[0], strides[0], 1, pads[0], pads[2]), outLen(what, w, kernel[1], strides[1], 1, pads[1], pads[3])];
}
function poolAttrs({ kernel, strides, pads }: PoolAttrs): Record<string, ReturnType<typeof attr.ints>> {
  return { kernel_shape: attr.ints(kernel), strides: attr.ints(strides), pads: attr.ints(pads) };
}

/** Nearest-neighbour upsampling by whole factors: each value fills its k x k block. */
function upsample(v: Value, kh: number, kw: number, like: Value): Value {
  const g = v.graph;
  const attrs = { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') };
  return g.emit1('Resize', [v, null, g.floats32([1, 1, kh, kw])], attrs, v.dtype, like.shape);
}

/**
 * How MaxPool's gradient is built. 'mask' (float32, non-overlapping windows that tile the
 * input): upsample the pooled output and dy with Resize and keep dy where x equals its window's
 * max; the fast form, but a tie passes dy to every tied element. 'indices': ask MaxPool for
 * the argmax indices and scatter-add dy there; exact, works for any windows and for float64.
 */
export type MaxPoolGradient = 'auto' | 'mask' | 'indices';

const maxPoolOp = defineOp<PoolAttrs & { gradient: 'mask' | 'indices' }, { indices: Value | null }>({
  name: 'MaxPool',
  forward: (g, [x], a) => {
    e.expectFloat('MaxPool', x);
    const [ho, wo] = poolShape('MaxPool', x, a);
    const shape = [x.shape[0], x.shape[1], ho, wo];
    if (a.gradient === 'mask') return { outputs: [g.emit1('MaxPool', [x], poolAttrs(a), x.dtype, shape)], saved: { indices: null } };
    const [y, indices] = g.emit('MaxPool', [x], poolAttrs(a), [
      { dtype: x.dtype, shape },
      { dtype: 'int64', shape },
    ]);
    return { outputs: [y], saved: { indices } };
  },
  backward: ({ inputs: [x], outputs: [y], attrs: { kernel }, saved: { indices } }, [dy]) => {
    if (dy === null) return [null];
    if (indices === null) {
      return [e.keepWhere(e.compare('Equal', x, upsample(y, kernel[0], kernel[1], x)), upsample(dy, kernel[0], kernel[1], x))];
    }
    // MaxPool's indices index the flattened input (batch and channel offsets included).
    const g = x.graph;
    const flat = e.reshape(e.zerosLike(x), [-1]);
    const scattered = g.emit1('ScatterElements', [flat, e.reshape(indices, [-1]), e.reshape(dy, [-1])], { axis: attr.int(0), reduction: attr.string('add') }, x.dtype, flat.shape);
    return [e.reshapeLike(scattered, x)];
  },
});

export function maxPool2d(x: Value, opts: PoolOptions & { gradient?: MaxPoolGradient }): Value {
  const a = fullPoolAttrs(opts);
  const [, h, w] = spatial(x, 'MaxPool');
  const tiles = a.strides[0] === a.kernel[0] && a.strides[1] === a.kernel[1] && a.pads.every((p) => p === 0) && h % a.kernel[0] === 0 && w % a.kernel[1] === 0;
  const want = opts.gradient ?? 'auto';
  const gradient = want === 'auto' ? (tiles && x.dtype === 'float32' ? 'mask' : 'indices') : want;
  if (gradient === 'mask' && !tiles) throw new EngineError('ENGINE_OP', `MaxPool: the 'mask' gradient needs non-overlapping, unpadded windows that tile the input`);
  return apply(maxPoolOp, [x], { ...a, gradient })[0];
}

/**
 * AveragePool. Its gradient spreads dy / (kh * kw) over each window: a depthwise ConvTranspose
 * with a constant kernel. With padding, pads count towards the divisor (count_include_pad=1),
 * which keeps the divisor constant.
 */
const avgPoolOp = defineOp<PoolAttrs>({
  name: 'AveragePool',
  forward: (g, [x], a) => {
    e.expectFloat('AveragePool', x);
    const [ho, wo] = poolShape('AveragePool', x, a);
    const attrs = { ...poolAttrs(a), count_include_pad: attr.int(1) };
    return { outputs: [g.emit1('AveragePool', [x], attrs, x.dtype, [x.shape[0], x.shape[1], ho, wo])], saved: undefined };
  },
  backward: ({ inputs: [x], outputs: [y], attrs: { kernel, strides, pads } }, [dy]) => {
    if (dy === null) return [null];
    const g = x.graph;
    const [c, h, w] = spatial(x, 'AveragePool');
    const [kh, kw] = kernel;
    const k = g.constant(new Array<number>(c * kh * kw).fill(1 / (kh * kw)), [c, 1, kh, kw], x.dtype);
    const outPad = [
      outputPadding(h, y.shape[2] as number, kh, strides[0], 1, pads[0], pads[2]),
      outputPadding(w, y.shape[3] as number, kw, strides[1], 1, pads[1], pads[3]),
    ];
    const attrs = { ...poolAttrs({ kernel, strides, pads }), group: attr.int(c), output_padding: attr.ints(outPad) };
    return [g.emit1('ConvTranspose', [dy, k], attrs, x.dtype, x.shape)];
  },
});
export const avgPool2d = (x: Value, opts: PoolOptions): Value => apply(avgPoolOp, [x], fullPoolAttrs(opts))[0];

/**
 * GlobalAveragePool, written as ReduceMean over H and W (same result, and unlike
 * GlobalAveragePool it has a float64 kernel). dx = dy / (H * W) spread over each plane.
 */
const globalAvgPoolOp = defineOp<Record<string, never>>({
  name: 'GlobalAveragePool',
  forward: (_g, [x]) => {
    e.expectFloat('GlobalAveragePool', x);
    spatial(x, 'GlobalAveragePool');
    return { outputs: [e.reduceMean(x, [2, 3], true)], saved: undefined };
  },
  backward: ({ inputs: [x] }, [dy]) => {
    if (dy === null) return [null];
    const [, h, w] = spatial(x, 'GlobalAveragePool');
    return [e.scale(e.expandLike(dy, x), 1 / (h * w))];
  },
});
export const globalAvgPool = (x: Value): Value => apply(globalAvgPoolOp, [x], {})[0];
