import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { DType } from './dtype.js';
import { EngineError } from './errors.js';
import type { GetResult, LoadResult, Request, RunResult, WireTensor } from './executor-protocol.js';
import type { TensorData } from './session.js';

/**
 * The executor's requests carried out on one onnxruntime: the sessions and the resident
 * tensors. Which onnxruntime (onnxruntime-node in a worker thread, onnxruntime-web in a page)
 * is the binding's business, so the resident-tensor logic exists once.
 */

export interface OrtBinding {
  /** `provider` is the executor's provider name; a binding with one fixed provider ignores it. */
  createSession(bytes: Uint8Array, provider: string, intraOpThreads: number | undefined): Promise<InferenceSession>;
  tensor(dtype: DType, data: TensorData, dims: readonly number[]): Tensor;
  run(session: InferenceSession, feeds: Record<string, Tensor>, fetches: Record<string, Tensor | null>): Promise<Record<string, Tensor>>;
  /**
   * Whether a run writes into preallocated output tensors. onnxruntime-node does; onnxruntime-web
   * (1.30, WASM) returns the tensor it was given without filling it, so there every kept output
   * is a fresh tensor that becomes the resident's data.
   */
  readonly preallocatedOutputs: boolean;
}

interface Resident {
  tensor: WireTensor;
  /** A second buffer of the same shape: the preallocated output of the next run that keeps it. */
  spare: TensorData | null;
}

function allocLike(t: WireTensor): TensorData {
  const n = t.data.length;
  switch (t.dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'bool':
      return new Uint8Array(n);
  }
}

function wire(t: Tensor): WireTensor {
  const dtype = t.type === 'float32' || t.type === 'float64' || t.type === 'int64' || t.type === 'bool' ? t.type : null;
  if (dtype === null) throw new EngineError('ENGINE_RUN', `output of type ${t.type} is not supported`);
  return { dtype, dims: [...t.dims], data: t.data as TensorData };
}

export class ResidentRuntime {
  private readonly sessions = new Map<string, InferenceSession>();
  private readonly residents = new Map<string, Resident>();

  constructor(private readonly ort: OrtBinding) {}

  /** Carries out one request; callers must not start the next before this one settles. */
  async handle(req: Request): Promise<unknown> {
    switch (req.op) {
      case 'load': {
        let s = this.sessions.get(req.key);
        if (s === undefined) {
          s = await this.ort.createSession(req.bytes, req.provider, req.intraOpThreads);
          this.sessions.set(req.key, s);
        }
        const result: LoadResult = { inputs: [...s.inputNames], outputs: [...s.outputNames] };
        return result;
      }
      case 'put':
        for (const [name, t] of Object.entries(req.tensors)) {
          const old = this.residents.get(name);
          // Keep the spare when the shape is unchanged (setParams each round reuses it).
          const spare = old !== undefined && old.tensor.dtype === t.dtype && old.tensor.data.length === t.data.length ? old.spare : null;
          this.residents.set(name, { tensor: t, spare });
        }
        return null;
      case 'get': {
        const tensors: Record<string, WireTensor> = {};
        for (const name of req.names) tensors[name] = this.resident(name).tensor;
        const result: GetResult = { tensors };
        return result;
      }
      case 'drop':
        for (const name of req.names) {
          if (name.endsWith('*')) {
            for (const k of [...this.residents.keys()]) if (k.startsWith(name.slice(0, -1))) this.residents.delete(k);
          } else this.residents.delete(name);
        }
        return null;
      case 'release': {
        const s = this.sessions.get(req.session);
        this.sessions.delete(req.session);
        await s?.release();
        return null;
      }
      case 'run':
        return this.run(req);
    }
  }

  private async run(req: Extract<Request, { op: 'run' }>): Promise<RunResult> {
    const s = this.sessions.get(req.session);
    if (s === undefined) throw new EngineError('ENGINE_STATE', `no session ${req.session} in the executor`);
    const feeds: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(req.feeds)) feeds[name] = this.ort.tensor(t.dtype, t.data, t.dims);
    for (const [name, res] of Object.entries(req.bind)) {
      const t = this.resident(res).tensor;
      feeds[name] = this.ort.tensor(t.dtype, t.data, t.dims);
    }
    const fetches: Record<string, Tensor | null> = {};
    const swaps: [Resident, TensorData][] = [];
    for (const [out, res] of Object.entries(req.keep)) {
      const r = this.residents.get(res);
      if (r === undefined || !this.ort.preallocatedOutputs) {
        fetches[out] = null; // onnxruntime allocates (a first run, or a binding that cannot fill ours); the result becomes resident
        continue;
      }
      const buf = r.spare ?? allocLike(r.tensor);
      fetches[out] = this.ort.tensor(r.tensor.dtype, buf, r.tensor.dims);
      swaps.push([r, buf]);
    }
    for (const name of req.fetch) if (!(name in fetches)) fetches[name] = null;
    const t0 = performance.now();
    const out = await this.ort.run(s, feeds, fetches);
    const ms = performance.now() - t0;
    for (const [r, buf] of swaps) {
      r.spare = r.tensor.data;
      r.tensor = { ...r.tensor, data: buf };
    }
    for (const [name, res] of Object.entries(req.keep)) {
      if (fetches[name] === null) this.residents.set(res, { tensor: wire(out[name]), spare: null });
    }
    const outputs: Record<string, WireTensor> = {};
    for (const name of req.fetch) {
      const kept = req.keep[name];
      outputs[name] = kept !== undefined ? this.resident(kept).tensor : wire(out[name]);
    }
    return { outputs, ms };
  }

  private resident(name: string): Resident {
    const r = this.residents.get(name);
    if (r === undefined) throw new EngineError('ENGINE_STATE', `no resident tensor named ${name}`);
    return r;
  }
}
