import * as ort from 'onnxruntime-web';
import { EngineError } from './errors.js';
import type { TensorExecutor } from './executor-api.js';
import { LocalExecutor } from './local-executor.js';

/**
 * The browser's executor: onnxruntime-web on the page's thread, on WebAssembly (with
 * `numThreads` worker threads when the page is cross-origin isolated) or WebGPU where the
 * browser offers an adapter. onnxruntime-web fetches its .wasm (and the .mjs of its threads)
 * from `wasmPaths`, which the page's server must serve.
 */

export type WebProvider = 'wasm' | 'webgpu';

export interface WebExecutorOptions {
  /** The URL prefix (ending in '/') where onnxruntime-web's dist files are served. */
  wasmPaths: string;
  /** WASM threads; more than 1 needs crossOriginIsolated (COOP/COEP headers). Default: 2 where isolated, else 1. */
  numThreads?: number;
  /** 'auto' (default): WebGPU when the browser hands out an adapter, else WASM. */
  provider?: WebProvider | 'auto';
}

interface GpuNavigator {
  readonly gpu?: { requestAdapter(): Promise<unknown> };
}

async function hasWebGpu(): Promise<boolean> {
  const nav = (globalThis as { navigator?: GpuNavigator }).navigator;
  if (nav?.gpu === undefined) return false;
  try {
    return (await nav.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** Whether the page may share memory with worker threads (so WASM may run on more than one). */
export function crossOriginIsolated(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/** onnxruntime-web reads its thread count once, when its WASM starts: later executors must agree. */
let startedThreads: number | null = null;

export async function createWebExecutor(opts: WebExecutorOptions): Promise<TensorExecutor> {
  const threads = opts.numThreads ?? (crossOriginIsolated() ? 2 : 1);
  if (!(Number.isInteger(threads) && threads >= 1)) throw new EngineError('ENGINE_STATE', `WASM threads ${threads} must be a positive integer`);
  if (threads > 1 && !crossOriginIsolated()) {
    throw new EngineError('ENGINE_PROVIDER', `${threads} WASM threads need a cross-origin isolated page (serve it with COOP: same-origin and COEP: require-corp)`);
  }
  if (startedThreads !== null && startedThreads !== threads) {
    throw new EngineError('ENGINE_STATE', `onnxruntime-web already runs on ${startedThreads} WASM thread(s) in this page; it cannot change to ${threads}`);
  }
  startedThreads = threads;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = opts.wasmPaths;
  const wanted = opts.provider ?? 'auto';
  const provider: WebProvider = wanted === 'auto' ? ((await hasWebGpu()) ? 'webgpu' : 'wasm') : wanted;
  return new LocalExecutor(provider, {
    async createSession(bytes) {
      try {
        // WebGPU lacks kernels for some training ops; onnxruntime places those nodes on WASM.
        return await ort.InferenceSession.create(bytes, { executionProviders: provider === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'], graphOptimizationLevel: 'all' });
      } catch (err) {
        throw new EngineError('ENGINE_RUN', `onnxruntime-web refused the model: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
      }
    },
    tensor: (dtype, data, dims) => new ort.Tensor(dtype, data, dims),
    preallocatedOutputs: false,
    async run(session, feeds, fetches) {
      try {
        return await session.run(feeds, fetches);
      } catch (err) {
        throw new EngineError('ENGINE_RUN', `onnxruntime-web run failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
      }
    },
  }, threads);
}
