import { EngineError } from './errors.js';
import type { RunOptions, SessionHandle, TensorExecutor } from './executor-api.js';
import type { Request, RunResult, WireTensor } from './executor-protocol.js';
import { ResidentRuntime, type OrtBinding } from './resident-runtime.js';
import type { TensorData } from './session.js';

/**
 * A TensorExecutor that runs its onnxruntime on the calling thread: a browser page, where
 * onnxruntime-web's WASM keeps its own worker threads for the kernels. Requests run one at a
 * time in issue order, like the Node worker's. Tensors cross the boundary as copies, as they
 * do through the worker's structured clone, because the runtime writes into resident buffers
 * that callers must never see change under them.
 */

function copy(t: WireTensor): WireTensor {
  return { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() as TensorData };
}

function copyAll(ts: Readonly<Record<string, WireTensor>>): Record<string, WireTensor> {
  const out: Record<string, WireTensor> = {};
  for (const [name, t] of Object.entries(ts)) out[name] = copy(t);
  return out;
}

/** A short, stable key for model bytes (FNV-1a over the bytes, with the length): sessions are cached by it. */
function modelKey(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return `${bytes.length.toString(16)}-${h.toString(16)}`;
}

export class LocalExecutor implements TensorExecutor {
  private readonly runtime: ResidentRuntime;
  private readonly loads = new Map<string, Promise<SessionHandle>>();
  private queue: Promise<unknown> = Promise.resolve();
  private isClosed = false;

  constructor(
    readonly provider: string,
    binding: OrtBinding,
    private readonly intraOpThreads?: number,
  ) {
    this.runtime = new ResidentRuntime(binding);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  load(bytes: Uint8Array): Promise<SessionHandle> {
    const key = `${modelKey(bytes)}:${this.provider}:${this.intraOpThreads ?? 0}`;
    let p = this.loads.get(key);
    if (p === undefined) {
      p = this.request<{ inputs: string[]; outputs: string[] }>({ op: 'load', key, bytes, provider: this.provider, intraOpThreads: this.intraOpThreads }).then((r) => ({ key, ...r }));
      p.catch(() => this.loads.delete(key));
      this.loads.set(key, p);
    }
    return p;
  }

  async put(tensors: Readonly<Record<string, WireTensor>>): Promise<void> {
    await this.request({ op: 'put', tensors: copyAll(tensors) });
  }

  async get(names: readonly string[]): Promise<Record<string, WireTensor>> {
    return copyAll((await this.request<{ tensors: Record<string, WireTensor> }>({ op: 'get', names })).tensors);
  }

  async drop(names: readonly string[]): Promise<void> {
    await this.request({ op: 'drop', names });
  }

  async run(session: SessionHandle, opts: RunOptions): Promise<RunResult> {
    const r = await this.request<RunResult>({ op: 'run', session: session.key, feeds: opts.feeds ?? {}, bind: opts.bind ?? {}, keep: opts.keep ?? {}, fetch: opts.fetch ?? [] });
    return { outputs: copyAll(r.outputs), ms: r.ms };
  }

  async release(session: SessionHandle): Promise<void> {
    this.loads.delete(session.key);
    await this.request({ op: 'release', session: session.key });
  }

  async close(): Promise<void> {
    this.isClosed = true;
    await this.queue.catch(() => undefined);
  }

  private request<T>(req: Request): Promise<T> {
    if (this.isClosed) return Promise.reject(new EngineError('ENGINE_STATE', 'the executor is closed'));
    const next = this.queue.catch(() => undefined).then(() => this.runtime.handle(req));
    this.queue = next;
    return next as Promise<T>;
  }
}
