import type { DType } from './dtype.js';
import type { EngineErrorCode } from './errors.js';
import type { TensorData } from './session.js';

/**
 * Messages between the Executor (main thread) and its worker. Tensors travel as typed arrays
 * (copied by structured clone, or transferred where the sender gives them up).
 */

export interface WireTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export interface LoadRequest {
  readonly op: 'load';
  readonly key: string;
  readonly bytes: Uint8Array;
  /** The executor's provider name, for bindings that offer more than one. */
  readonly provider: string;
  readonly intraOpThreads: number | undefined;
}

/** Stores tensors in the worker under names, to bind as inputs without sending them again. */
export interface PutRequest {
  readonly op: 'put';
  readonly tensors: Readonly<Record<string, WireTensor>>;
}

export interface GetRequest {
  readonly op: 'get';
  readonly names: readonly string[];
}

export interface DropRequest {
  readonly op: 'drop';
  /** Resident tensor names to free; a name ending in '*' drops every name with that prefix. */
  readonly names: readonly string[];
}

export interface RunRequest {
  readonly op: 'run';
  readonly session: string;
  /** Inputs sent with this call. */
  readonly feeds: Readonly<Record<string, WireTensor>>;
  /** Inputs taken from resident tensors: model input name -> resident name. */
  readonly bind: Readonly<Record<string, string>>;
  /**
   * Outputs stored as resident tensors: model output name -> resident name. The worker writes
   * them into preallocated buffers of the resident's shape and swaps after the run, so a
   * training loop that feeds each step's outputs to the next allocates nothing.
   */
  readonly keep: Readonly<Record<string, string>>;
  /** Outputs sent back. */
  readonly fetch: readonly string[];
}

export interface ReleaseRequest {
  readonly op: 'release';
  readonly session: string;
}

export type Request = LoadRequest | PutRequest | GetRequest | DropRequest | RunRequest | ReleaseRequest;

export interface LoadResult {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

export interface RunResult {
  readonly outputs: Readonly<Record<string, WireTensor>>;
  /** Milliseconds inside onnxruntime's run. */
  readonly ms: number;
}

export interface GetResult {
  readonly tensors: Readonly<Record<string, WireTensor>>;
}

export type Envelope = { readonly id: number } & Request;

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly code: EngineErrorCode; readonly message: string };
