import { parentPort } from 'node:worker_threads';
import { EngineError } from './errors.js';
import type { Envelope, Reply } from './executor-protocol.js';
import { ResidentRuntime } from './resident-runtime.js';
import { GarbagePacer } from './garbage.js';
import { createSession, runSession, toTensor, type ExecutionProvider } from './session.js';

/**
 * The executor's worker thread: owns the onnxruntime-node sessions and the resident tensors,
 * and runs one request at a time in arrival order (a run blocks this thread, never the
 * caller's). Started by executor.ts from the compiled dist/ file.
 */

/**
 * onnxruntime-node hands back every output of a run as a new ArrayBuffer, a copy even of the
 * outputs it wrote into our preallocated buffers: a training step of the 784-200-200-10 MLP
 * leaves 1.6 MB of dead parameter and momentum copies. A minor collection once runs have
 * returned 4 MB (every third MLP step) frees them while they are young (garbage.ts).
 */
const garbage = new GarbagePacer('minor', 4 * 2 ** 20);

const runtime = new ResidentRuntime({
  // createSession checks the name: an unknown provider fails with ENGINE_PROVIDER.
  createSession: (bytes, provider, intraOpThreads) => createSession(bytes, { provider: provider as ExecutionProvider, intraOpThreads }),
  tensor: toTensor,
  run: async (session, feeds, fetches) => {
    const out = await runSession(session, feeds, fetches);
    for (const name in out) {
      const data = out[name].data;
      if (ArrayBuffer.isView(data)) garbage.add(data.byteLength);
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
    garbage.collectIfDue();
  });
});
