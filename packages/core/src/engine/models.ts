import type { FloatType } from './dtype.js';
import { EngineError } from './errors.js';
import { Graph, type FloatArray, type Value } from './graph.js';
import { conv2d, flatten, gemm, maxPool2d, relu, reshape, softmaxCrossEntropy } from './ops/index.js';
import { BATCH } from './shape.js';

/**
 * The FedAvg paper's MNIST models as graph builders. Both take x as [N, 784] floats and y as
 * [N] int64 labels, so one data pipeline feeds either. Parameter names and layouts follow
 * PyTorch (`fc1.weight` is [out, in]), so checkpoints read naturally in PyTorch tools.
 */

export interface ModelGraph {
  readonly graph: Graph;
  readonly x: Value;
  readonly y: Value;
  readonly logits: Value;
  /** Mean softmax cross-entropy over the batch. */
  readonly loss: Value;
}

export interface ModelGraphOptions {
  dtype?: FloatType;
  classes?: number;
}

/** A fully connected layer y = x . W^T + b with PyTorch's default initialisation bounds. */
function linear(g: Graph, name: string, x: Value, inDim: number, outDim: number): Value {
  const bound = 1 / Math.sqrt(inDim);
  const w = g.param(`${name}.weight`, [outDim, inDim], { kind: 'uniform', limit: bound });
  const b = g.param(`${name}.bias`, [outDim], { kind: 'uniform', limit: bound });
  return gemm(x, w, b, { transB: true });
}

function conv(g: Graph, name: string, x: Value, inCh: number, outCh: number, k: number): Value {
  const bound = 1 / Math.sqrt(inCh * k * k);
  const w = g.param(`${name}.weight`, [outCh, inCh, k, k], { kind: 'uniform', limit: bound });
  const b = g.param(`${name}.bias`, [outCh], { kind: 'uniform', limit: bound });
  const p = (k - 1) / 2; // 'same' padding, as in the paper's TensorFlow model
  return conv2d(x, w, b, { pads: [p, p, p, p] });
}

function heads(g: Graph, x: Value, y: Value, logits: Value): ModelGraph {
  return { graph: g, x, y, logits, loss: softmaxCrossEntropy(logits, y) };
}

/** The "2NN": 784-200-200-10 with ReLU. */
export function mlp(opts: ModelGraphOptions & { hidden?: readonly number[] } = {}): ModelGraph {
  const g = new Graph({ dtype: opts.dtype ?? 'float32', name: 'mlp' });
  const x = g.input('x', [BATCH, 784]);
  const y = g.input('y', [BATCH], 'int64');
  let h = x;
  let width = 784;
  (opts.hidden ?? [200, 200]).forEach((size, i) => {
    h = relu(linear(g, `fc${i + 1}`, h, width, size));
    width = size;
  });
  const logits = linear(g, `fc${(opts.hidden ?? [200, 200]).length + 1}`, h, width, opts.classes ?? 10);
  return heads(g, x, y, logits);
}

/** The FedAvg CNN: 5x5 conv 32, 2x2 max-pool, 5x5 conv 64, 2x2 max-pool, FC 512, FC 10. */
export function cnn(opts: ModelGraphOptions = {}): ModelGraph {
  const g = new Graph({ dtype: opts.dtype ?? 'float32', name: 'cnn' });
  const x = g.input('x', [BATCH, 784]);
  const y = g.input('y', [BATCH], 'int64');
  const img = reshape(x, [-1, 1, 28, 28]);
  // ReLU after the pool: max-pooling commutes with ReLU (both monotone), so the function is the
  // paper's, but the ReLU and its gradient mask run on a quarter of the values, and the pool's
  // max mask sees untied pre-activation values instead of runs of zeros.
  const c1 = relu(maxPool2d(conv(g, 'conv1', img, 1, 32, 5), { kernel: [2, 2] }));
  const c2 = relu(maxPool2d(conv(g, 'conv2', c1, 32, 64, 5), { kernel: [2, 2] }));
  const f = relu(linear(g, 'fc1', flatten(c2, 1), 64 * 7 * 7, 512));
  return heads(g, x, y, linear(g, 'fc2', f, 512, opts.classes ?? 10));
}

/**
 * Draws every parameter's first values from its init spec. `uniform` is a seeded generator's
 * uniform() in [0, 1) (the kernels' Rng), so the same seed gives the same model.
 */
export function initParams(g: Graph, uniform: () => number): Map<string, FloatArray> {
  const out = new Map<string, FloatArray>();
  for (const p of g.params) {
    const n = p.shape.reduce<number>((a, d) => a * (d as number), 1);
    const data = g.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
    const init = g.paramInit.get(p.name) ?? { kind: 'zeros' };
    for (let i = 0; i < n; i++) {
      switch (init.kind) {
        case 'zeros':
          break;
        case 'ones':
          data[i] = 1;
          break;
        case 'uniform':
          data[i] = (2 * uniform() - 1) * init.limit;
          break;
        case 'normal': {
          // Box-Muller; 1 - u keeps the log finite.
          data[i] = init.std * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
          break;
        }
        default:
          throw new EngineError('ENGINE_OP', `unknown init for ${p.name}`);
      }
    }
    out.set(p.name, data);
  }
  return out;
}
