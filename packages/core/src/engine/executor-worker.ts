import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { EngineError } from './errors.js';
import type { Envelope, Reply } from './executor-protocol.js';
import { ResidentRuntime } from './resident-runtime.js';
import { createSession, runSession, toTensor, type ExecutionProvider } from './session.js';

/**
 * The executor's worker thread: owns the onnxruntime-node sessions and the resident tensors,
 * and runs one request at a time in arrival order (a run blocks this thread, never the
 * caller's). Started by executor.ts from the compiled dist/ file.
 */

/**
 * onnxruntime-node hands back every output of a run as a new ArrayBuffer, a copy even of the
 * outputs it wrote into our preallocated buffers: a training step of the 784-200-200-10 MLP
 * leaves 1.6 MB of dead parameter and momentum copies. Their JS objects are small, so the young
 * generation fills slowly and V8 collects them only once external memory has grown by its 64 MB
 * limit: a trainer daemon's first epoch grew by about 45 MB that way. A minor collection once
 * runs have returned this many bytes frees them while they are still young, for well under a
 * millisecond a time (docs/daemon-memory.md).
 */
const COLLECT_AFTER_BYTES = 4 * 2 ** 20;

/** V8's gc(), exposed for this isolate; null where the flag cannot be set. */
function exposeGc(): ((opts: { type: 'minor' }) => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    // Only contexts created after the flag is set carry gc(), so one is made for it.
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as (opts: { type: 'minor' }) => void) : null;
  } catch {
    return null;
  }
}
const collect = exposeGc();
let returnedBytes = 0;

const runtime = new ResidentRuntime({
  // createSession checks the name: an unknown provider fails with ENGINE_PROVIDER.
  createSession: (bytes, provider, intraOpThreads) => createSession(bytes, { provider: provider as ExecutionProvider, intraOpThreads }),
  tensor: toTensor,
  run: async (session, feeds, fetches) => {
    const out = await runSession(session, feeds, fetches);
    for (const name in out) {
      const data = out[name].data;
      if (ArrayBuffer.isView(data)) returnedBytes += data.byteLength;
    }
    return out;
  },
  preallocatedOutputs: true,
});

const port = parentPort;
if (port === null) throw new Error('executor-worker.js must be started as a worker thread');

// Requests are chained so that each one finishes (buffers swapped, reply sent) before the next
// starts, even though onnxruntime's run returns a promise.
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: Envelope) => {
  queue = queue.then(async () => {
    let reply: Reply;
    try {
      reply = { id: msg.id, ok: true, result: await runtime.handle(msg) };
    } catch (err) {
      const code = err instanceof EngineError ? err.code : 'ENGINE_RUN';
      reply = { id: msg.id, ok: false, code, message: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
    if (collect !== null && returnedBytes >= COLLECT_AFTER_BYTES) {
      returnedBytes = 0;
      collect({ type: 'minor' });
    }
  });
});
