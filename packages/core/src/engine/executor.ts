import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EngineError } from './errors.js';
import type { RunOptions, SessionHandle, TensorExecutor } from './executor-api.js';
import type { Envelope, GetResult, LoadResult, Reply, Request, RunResult, WireTensor } from './executor-protocol.js';
import { checkProvider, type ExecutionProvider } from './session.js';

export type { WireTensor } from './executor-protocol.js';
export type { RunOptions, SessionHandle, TensorExecutor } from './executor-api.js';

/**
 * Node's TensorExecutor: runs onnxruntime-node sessions in a worker thread, because a run blocks the thread that calls it
 * and a peer's network must stay responsive while it trains. The worker keeps one session per
 * architecture (the key hashes the model bytes with the provider and thread count) and
 * "resident" tensors (parameters, optimiser state) that runs bind as inputs and overwrite with
 * outputs in preallocated buffers, so a training step sends only its batch.
 */

export interface ExecutorOptions {
  /** 'cpu' (default) or 'cuda' (onnxruntime's CUDA provider, when installed). */
  provider?: ExecutionProvider;
  /** onnxruntime's intra-op threads per session; its default is one per core. */
  intraOpThreads?: number;
}


/**
 * The compiled worker file. Under tsx (running src/*.ts) it is the dist/ counterpart, because
 * Node 20 cannot start a .ts file as a worker through tsx.
 */
export function executorWorkerPath(): string {
  const self = import.meta.url;
  const url = self.endsWith('.ts') ? new URL('../../dist/engine/executor-worker.js', self) : new URL('./executor-worker.js', self);
  const path = fileURLToPath(url);
  if (!existsSync(path)) {
    throw new EngineError('ENGINE_WORKER', `the training engine's worker ${path} is missing; run \`npm run build\` first`);
  }
  return path;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class Executor implements TensorExecutor {
  readonly provider: ExecutionProvider;
  readonly intraOpThreads: number | undefined;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly loads = new Map<string, Promise<SessionHandle>>();
  private nextId = 1;
  private failure: EngineError | null = null;

  private constructor(opts: ExecutorOptions) {
    this.provider = opts.provider ?? 'cpu';
    this.intraOpThreads = opts.intraOpThreads;
    this.worker = new Worker(executorWorkerPath());
    // Idle, the worker must not keep the process alive; it is ref'd while a request is out.
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => this.settle(reply));
    this.worker.on('error', (err) => this.fail(new EngineError('ENGINE_WORKER', `the training engine's worker failed: ${err.message}`)));
    this.worker.on('exit', (code) => this.fail(new EngineError(code === 0 ? 'ENGINE_STATE' : 'ENGINE_WORKER', code === 0 ? 'the executor is closed' : `the training engine's worker exited with code ${code}`)));
  }

  /** Starts the worker. The provider is checked here, so a missing CUDA install fails at once. */
  static create(opts: ExecutorOptions = {}): Executor {
    checkProvider(opts.provider ?? 'cpu');
    if (opts.intraOpThreads !== undefined && !(Number.isInteger(opts.intraOpThreads) && opts.intraOpThreads >= 1)) {
      throw new EngineError('ENGINE_STATE', `intra-op threads ${opts.intraOpThreads} must be a positive integer`);
    }
    return new Executor(opts);
  }

  /** Opens (or reuses) the session for these model bytes. */
  load(bytes: Uint8Array): Promise<SessionHandle> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const key = `${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}:${this.provider}:${this.intraOpThreads ?? 0}`;
    let p = this.loads.get(key);
    if (p === undefined) {
      p = this.request<LoadResult>({ op: 'load', key, bytes, provider: this.provider, intraOpThreads: this.intraOpThreads }).then((r) => ({ key, ...r }));
      p.catch(() => this.loads.delete(key));
      this.loads.set(key, p);
    }
    return p;
  }

  /** Stores tensors in the worker under these names (copied; the caller keeps its arrays). */
  async put(tensors: Readonly<Record<string, WireTensor>>): Promise<void> {
    await this.request({ op: 'put', tensors });
  }

  /** Copies of resident tensors. */
  async get(names: readonly string[]): Promise<Record<string, WireTensor>> {
    return { ...(await this.request<GetResult>({ op: 'get', names })).tensors };
  }

  /** Frees resident tensors; a name ending in '*' is a prefix. */
  async drop(names: readonly string[]): Promise<void> {
    await this.request({ op: 'drop', names });
  }

  async run(session: SessionHandle, opts: RunOptions): Promise<RunResult> {
    const feeds = opts.feeds ?? {};
    const transfer: ArrayBuffer[] = [];
    if (opts.transfer === true) {
      for (const t of Object.values(feeds)) {
        const buf = t.data.buffer;
        // Only a buffer the array owns whole can be given away without detaching other views.
        if (buf instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === buf.byteLength && !transfer.includes(buf)) transfer.push(buf);
      }
    }
    return this.request<RunResult>(
      { op: 'run', session: session.key, feeds, bind: opts.bind ?? {}, keep: opts.keep ?? {}, fetch: opts.fetch ?? [] },
      transfer,
    );
  }

  async release(session: SessionHandle): Promise<void> {
    this.loads.delete(session.key);
    await this.request({ op: 'release', session: session.key });
  }

  /** Stops the worker; pending and later calls fail with ENGINE_STATE. */
  async close(): Promise<void> {
    if (this.failure !== null) return;
    this.fail(new EngineError('ENGINE_STATE', 'the executor is closed'));
    await this.worker.terminate();
  }

  get closed(): boolean {
    return this.failure !== null;
  }

  private request<T>(req: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.size === 1) this.worker.ref();
      const msg: Envelope = { id, ...req };
      this.worker.postMessage(msg, transfer);
    });
  }

  private settle(reply: Reply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new EngineError(reply.code, reply.message));
  }

  private fail(err: EngineError): void {
    if (this.failure === null) this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.worker.unref();
  }
}
