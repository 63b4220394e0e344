import { parentPort } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { EngineError } from './errors.js';
import type { Envelope, GetResult, LoadResult, Reply, Request, RunResult, WireTensor } from './executor-protocol.js';
import { createSession, runSession, toTensor, type TensorData } from './session.js';

/**
 * The executor's worker thread: owns the onnxruntime sessions and the resident tensors, and
 * runs one request at a time in arrival order (a run blocks this thread, never the caller's).
 * Started by executor.ts from the compiled dist/ file.
 */

interface Resident {
  tensor: WireTensor;
  /** A second buffer of the same shape: the preallocated output of the next run that keeps it. */
  spare: TensorData | null;
}

const sessions = new Map<string, ort.InferenceSession>();
const residents = new Map<string, Resident>();

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

function wire(t: ort.Tensor): WireTensor {
  const dtype = t.type === 'float32' || t.type === 'float64' || t.type === 'int64' || t.type === 'bool' ? t.type : null;
  if (dtype === null) throw new EngineError('ENGINE_RUN', `output of type ${t.type} is not supported`);
  return { dtype, dims: [...t.dims], data: t.data as TensorData };
}

function session(key: string): ort.InferenceSession {
  const s = sessions.get(key);
  if (s === undefined) throw new EngineError('ENGINE_STATE', `no session ${key} in the executor`);
  return s;
}

function resident(name: string): Resident {
  const r = residents.get(name);
  if (r === undefined) throw new EngineError('ENGINE_STATE', `no resident tensor named ${name}`);
  return r;
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'load': {
      let s = sessions.get(req.key);
      if (s === undefined) {
        s = await createSession(req.bytes, { provider: req.provider, intraOpThreads: req.intraOpThreads });
        sessions.set(req.key, s);
      }
      const result: LoadResult = { inputs: [...s.inputNames], outputs: [...s.outputNames] };
      return result;
    }
    case 'put':
      for (const [name, t] of Object.entries(req.tensors)) {
        const old = residents.get(name);
        // Keep the spare when the shape is unchanged (setParams each round reuses it).
        const spare = old !== undefined && old.tensor.dtype === t.dtype && old.tensor.data.length === t.data.length ? old.spare : null;
        residents.set(name, { tensor: t, spare });
      }
      return null;
    case 'get': {
      const tensors: Record<string, WireTensor> = {};
      for (const name of req.names) tensors[name] = resident(name).tensor;
      const result: GetResult = { tensors };
      return result;
    }
    case 'drop':
      for (const name of req.names) {
        if (name.endsWith('*')) {
          for (const k of [...residents.keys()]) if (k.startsWith(name.slice(0, -1))) residents.delete(k);
        } else residents.delete(name);
      }
      return null;
    case 'release': {
      const s = sessions.get(req.session);
      sessions.delete(req.session);
      await s?.release();
      return null;
    }
    case 'run': {
      const s = session(req.session);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(req.feeds)) feeds[name] = toTensor(t.dtype, t.data, t.dims);
      for (const [name, res] of Object.entries(req.bind)) {
        const t = resident(res).tensor;
        feeds[name] = toTensor(t.dtype, t.data, t.dims);
      }
      const fetches: Record<string, ort.Tensor | null> = {};
      const swaps: [string, Resident, TensorData][] = [];
      for (const [out, res] of Object.entries(req.keep)) {
        const r = residents.get(res);
        if (r === undefined) {
          fetches[out] = null; // first run: onnxruntime allocates, the result becomes resident
          continue;
        }
        const buf = r.spare ?? allocLike(r.tensor);
        fetches[out] = toTensor(r.tensor.dtype, buf, r.tensor.dims);
        swaps.push([res, r, buf]);
      }
      for (const name of req.fetch) if (!(name in fetches)) fetches[name] = null;
      const t0 = performance.now();
      const out = await runSession(s, feeds, fetches);
      const ms = performance.now() - t0;
      for (const [, r, buf] of swaps) {
        r.spare = r.tensor.data;
        r.tensor = { ...r.tensor, data: buf };
      }
      for (const [name, res] of Object.entries(req.keep)) {
        if (!residents.has(res)) residents.set(res, { tensor: wire(out[name]), spare: null });
      }
      const outputs: Record<string, WireTensor> = {};
      for (const name of req.fetch) {
        const kept = req.keep[name];
        outputs[name] = kept !== undefined ? resident(kept).tensor : wire(out[name]);
      }
      const result: RunResult = { outputs, ms };
      return result;
    }
  }
}

const port = parentPort;
if (port === null) throw new Error('executor-worker.js must be started as a worker thread');

// Requests are chained so that each one finishes (buffers swapped, reply sent) before the next
// starts, even though onnxruntime's run returns a promise.
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: Envelope) => {
  queue = queue.then(async () => {
    let reply: Reply;
    try {
      reply = { id: msg.id, ok: true, result: await handle(msg) };
    } catch (err) {
      const code = err instanceof EngineError ? err.code : 'ENGINE_RUN';
      reply = { id: msg.id, ok: false, code, message: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
});
