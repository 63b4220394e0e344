/** Worker side of EncodePool: encodes the tensors it is sent and transfers the bytes back. */
import { parentPort } from 'node:worker_threads';
import { CoreError } from '../errors.js';
import { codecFor } from './registry.js';
import type { EncodeJob, EncodeReply } from './encode-pool.js';

parentPort!.on('message', (job: EncodeJob) => {
  try {
    const out = job.tensors.map((t) => {
      const residual = t.withResidual ? new Float32Array(t.data.length) : null;
      const payload = codecFor(t.params).encode(t.data, t.shape, t.params, residual ?? undefined);
      return { index: t.index, payload, residual };
    });
    const transfer = out.flatMap((o) => (o.residual ? [o.payload.buffer, o.residual.buffer] : [o.payload.buffer])) as ArrayBuffer[];
    parentPort!.postMessage({ id: job.id, out } satisfies EncodeReply, transfer);
  } catch (e) {
    const err = e instanceof CoreError ? { code: e.code, message: e.message } : { code: 'UPDATE_CODEC' as const, message: String((e as Error)?.message ?? e) };
    parentPort!.postMessage({ id: job.id, error: err } satisfies EncodeReply);
  }
});
