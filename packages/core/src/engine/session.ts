import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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

/** The repository denies onnxruntime-node's postinstall (package.json allowScripts), so `npm rebuild` would not run it. */
const CUDA_HINT =
  'install it with ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install in the repository (needs an NVIDIA GPU with CUDA 12)';

/**
 * Throws ENGINE_PROVIDER unless onnxruntime-node's CUDA provider library is installed beside its
 * binding. Checked before onnxruntime tries, because its own failure prints a native error
 * line on stderr that the user cannot silence.
 */
export function checkProvider(provider: ExecutionProvider): void {
  if (provider === 'cpu') return;
  if (provider !== 'cuda') throw new EngineError('ENGINE_PROVIDER', `unknown execution provider ${JSON.stringify(provider)} (use cpu or cuda)`);
  let bin: string;
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    bin = join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    throw new EngineError('ENGINE_PROVIDER', 'onnxruntime-node is not installed');
  }
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  if (!existsSync(join(bin, lib))) {
    throw new EngineError('ENGINE_PROVIDER', `onnxruntime's CUDA execution provider is not installed; ${CUDA_HINT}`);
  }
}

export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const provider = opts.provider ?? 'cpu';
  checkProvider(provider);
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
  };
  if (opts.intraOpThreads !== undefined) sessionOptions.intraOpNumThreads = opts.intraOpThreads;
  // One graph runs at a time and its nodes form a chain: extra inter-op threads only contend.
  sessionOptions.interOpNumThreads = 1;
  try {
    return await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (provider !== 'cpu' && /provider|cuda|backend|library/i.test(msg)) {
      throw new EngineError(
        'ENGINE_PROVIDER',
        `onnxruntime cannot load the ${provider} execution provider (${msg.split('\n')[0]}); ${CUDA_HINT}`,
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

/**
 * Runs a session and maps onnxruntime's failures to ENGINE_RUN. `fetches` names the outputs to
 * compute; a tensor there is a preallocated output that onnxruntime writes in place, null lets
 * it allocate.
 */
export async function runSession(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  fetches?: Record<string, ort.Tensor | null>,
): Promise<Record<string, ort.Tensor>> {
  try {
    return fetches === undefined ? await session.run(feeds) : await session.run(feeds, fetches);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new EngineError('ENGINE_RUN', `onnxruntime run failed: ${msg.split('\n')[0]}`);
  }
}
