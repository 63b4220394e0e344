import * as ort from 'onnxruntime-node';
import type { DType } from './dtype.js';
import { EngineError } from './errors.js';

/**
 * Thin onnxruntime helpers: open a session on model bytes with a named execution provider,
 * and wrap typed arrays as tensors. (The worker-thread executor with its session cache builds
 * on these.)
 */

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  provider?: ExecutionProvider;
  /** Small graphs run faster on one intra-op thread; large ones want the cores. */
  intraOpThreads?: number;
}

export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const provider = opts.provider ?? 'cpu';
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
  };
  if (opts.intraOpThreads !== undefined) sessionOptions.intraOpNumThreads = opts.intraOpThreads;
  try {
    return await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (provider !== 'cpu' && /provider|cuda|backend|library/i.test(msg)) {
      throw new EngineError(
        'ENGINE_PROVIDER',
        `onnxruntime cannot load the ${provider} execution provider (${msg.split('\n')[0]}); install it with ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node`,
      );
    }
    throw new EngineError('ENGINE_RUN', `onnxruntime refused the model: ${msg.split('\n')[0]}`);
  }
}

export type TensorData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

const ORT_TYPE: Record<DType, 'float32' | 'float64' | 'int64' | 'bool'> = { float32: 'float32', float64: 'float64', int64: 'int64', bool: 'bool' };

export function toTensor(dtype: DType, data: TensorData, dims: readonly number[]): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new EngineError('ENGINE_SHAPE', `tensor: ${data.length} values for dims [${dims.join(', ')}]`);
  return new ort.Tensor(ORT_TYPE[dtype], data, dims);
}

/** Runs a session and maps onnxruntime's failures to ENGINE_RUN. */
export async function runSession(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  try {
    return await session.run(feeds);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new EngineError('ENGINE_RUN', `onnxruntime run failed: ${msg.split('\n')[0]}`);
  }
}
