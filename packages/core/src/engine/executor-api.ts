import type { RunResult, WireTensor } from './executor-protocol.js';

/**
 * What the trainer needs from whatever runs its ONNX sessions: a session cache keyed by the
 * model bytes, and named "resident" tensors (parameters, optimiser state) that runs bind as
 * inputs and overwrite with outputs. Node runs it in a worker thread (executor.ts); a browser
 * runs it in the page over onnxruntime-web (local-executor.ts with ort-web.ts).
 */

export interface SessionHandle {
  readonly key: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

export interface RunOptions {
  feeds?: Readonly<Record<string, WireTensor>>;
  bind?: Readonly<Record<string, string>>;
  keep?: Readonly<Record<string, string>>;
  fetch?: readonly string[];
  /** Hand the feeds' buffers to the executor instead of copying them (the caller must not reuse them). */
  transfer?: boolean;
}

export interface TensorExecutor {
  /** The execution provider's name ('cpu', 'cuda', 'wasm', 'webgpu'). */
  readonly provider: string;
  readonly closed: boolean;
  /** Opens (or reuses) the session for these model bytes. */
  load(bytes: Uint8Array): Promise<SessionHandle>;
  /** Stores tensors under these names (copied; the caller keeps its arrays). */
  put(tensors: Readonly<Record<string, WireTensor>>): Promise<void>;
  /** Copies of resident tensors. */
  get(names: readonly string[]): Promise<Record<string, WireTensor>>;
  /** Frees resident tensors; a name ending in '*' is a prefix. */
  drop(names: readonly string[]): Promise<void>;
  /** Runs requests in the order they were issued. */
  run(session: SessionHandle, opts: RunOptions): Promise<RunResult>;
  release(session: SessionHandle): Promise<void>;
  /** Pending and later calls fail with ENGINE_STATE. */
  close(): Promise<void>;
}
