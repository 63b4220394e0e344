/**
 * `/fednode/update/1`: a trainer pushes one update (header frame, then payload chunk
 * frames) and the server answers with one UpdateAck frame: accepted with the version, or
 * refused with a code and reason. The server checks admission and the header before
 * reading any payload, and answers any violation with a refusal, then aborts the stream.
 */
import {
  DEFAULT_FRAME_BYTES,
  DEFAULT_WIRE_LIMITS,
  PayloadAssembler,
  decodeUpdateAck,
  decodeUpdateHeader,
  encodeUpdateAck,
  encodeUpdateHeader,
  type Update,
  type UpdateAck,
  type UpdateHeaderInfo,
  type WireLimits,
} from '@fednode/core';
import type { Connection, Stream } from '@libp2p/interface';
import type { FedHost } from './host.js';
import { NOT_ADMITTED, type Admission } from './admission.js';
import { openStream, type PeerTarget } from './dial.js';
import { FrameReader, abortQuietly, expectFrame, expectFramePieces, writeFrame, writeFrames } from './frames.js';
import { assembleChunk, payloadChunkFrames } from './chunk-frames.js';
import { NetError, Refused } from './errors.js';
import { refuse, withTimeout } from './answer.js';

export const UPDATE_PROTOCOL = '/fednode/update/1';

/** Acks are small; anything bigger from a server is a protocol violation. */
const MAX_ACK_BYTES = 64 * 1024;
/** A timer far enough away to mean "no timeout" (setTimeout's largest delay). */
const FOREVER_MS = 2 ** 31 - 1;

export interface PushOptions {
  /** Longest wait for each step (connecting, the remote taking more bytes, the answer), ms (default 30 s). */
  readonly timeoutMs?: number;
  /** Payload bytes per chunk frame (default 1 MiB). */
  readonly frameBytes?: number;
  /** Proves the run's pre-shared key first, when the policy has one. */
  readonly admission?: Admission;
  readonly limits?: WireLimits;
}

/**
 * Pushes `update` to `target` and returns the server's acceptance. A refusal throws
 * NET_REFUSED with the server's code in `remoteCode`; a refusal that arrives while we are
 * still sending stops the sending at once.
 */
export async function pushUpdate(host: FedHost, target: PeerTarget, update: Update, options: PushOptions = {}): Promise<UpdateAck> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const limits = options.limits ?? DEFAULT_WIRE_LIMITS;
  const { stream, connection } = await openStream(host, target, UPDATE_PROTOCOL, { timeoutMs, admission: options.admission });
  const remote = connection.remotePeer.toString();
  // Reading starts at once: a server refusing early answers while we are still sending.
  const reader = new FrameReader(stream, { maxFrameBytes: MAX_ACK_BYTES, timeoutMs });
  const answered = new AbortController();
  const answer = reader.next(FOREVER_MS);
  answer.then(
    () => answered.abort(),
    () => answered.abort(),
  );
  const write = { timeoutMs, signal: answered.signal };
  try {
    try {
      await writeFrames(stream, updateFrames(update, options.frameBytes ?? DEFAULT_FRAME_BYTES), write);
      if (!answered.signal.aborted) await stream.close({ signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), answered.signal]) });
    } catch (e) {
      // The server may have refused and reset the stream: its answer came first, so read it.
      // Aborting ends the wait for it when it never came (a write that timed out).
      abortQuietly(stream, e as Error);
      await answer.catch(() => {
        throw e instanceof NetError ? e : new NetError('NET_CLOSED', `stream to ${remote} failed while sending: ${(e as Error).message}`, { cause: e });
      });
    }
    const frame = await withTimeout(answer, timeoutMs, `no answer from ${remote} within ${timeoutMs} ms`);
    if (frame === null) throw new NetError('NET_PROTOCOL', `${remote} closed the stream without answering`);
    let ack: UpdateAck;
    try {
      ack = decodeUpdateAck(frame, limits);
    } catch (e) {
      throw new NetError('NET_PROTOCOL', `${remote} sent an undecodable answer: ${(e as Error).message}`, { cause: e });
    }
    if (!ack.accepted) {
      throw new NetError('NET_REFUSED', `${remote} refused the update: ${ack.code}: ${ack.reason}`, { remoteCode: ack.code });
    }
    return ack;
  } catch (e) {
    abortQuietly(stream, e as Error);
    throw e;
  } finally {
    reader.dispose();
    if (stream.status === 'open') await stream.close().catch(() => undefined);
  }
}

/** The header frame, then the payload chunk frames. */
function* updateFrames(update: Update, frameBytes: number): Generator<Uint8Array | Uint8Array[]> {
  yield encodeUpdateHeader(update);
  yield* payloadChunkFrames(update.tensors, frameBytes);
}

export interface UpdateServerOptions {
  readonly limits?: WireLimits;
  /** Longest wait for each frame and for the sender to take our answer, ms (default 30 s). */
  readonly timeoutMs?: number;
  /** Refuses peers that are not admitted (NOT_ADMITTED) before reading anything. */
  readonly admission?: Admission;
  /**
   * Checks a validated header before any payload is read (run id, round, base version,
   * sequence, slice). Throw `Refused` to refuse.
   */
  readonly onHeader?: (header: UpdateHeaderInfo, peer: string) => void | Promise<void>;
  /**
   * Takes a complete update from `peer`, the id the noise handshake authenticated (never
   * `update.sender`). Returns the version to acknowledge; throw `Refused` to refuse. The
   * acknowledgement is sent only after this resolves (so a write-ahead log can fsync first).
   */
  readonly onUpdate: (update: Update, peer: string) => { version: number } | Promise<{ version: number }>;
  /** Called once an acceptance has been written and the stream closed (the sender has its answer). */
  readonly onAcknowledged?: (update: Update, peer: string, version: number) => void;
  /** Called with each refused or failed stream, for logs. */
  readonly onRefused?: (peer: string, code: string, reason: string) => void;
  /** Concurrent update streams per connection (default 4). */
  readonly maxInboundStreams?: number;
}

/** Serves `/fednode/update/1` on `host`; returns a function that stops serving. */
export async function serveUpdates(host: FedHost, options: UpdateServerOptions): Promise<() => Promise<void>> {
  await host.handle(UPDATE_PROTOCOL, (stream, connection) => handleUpdateStream(stream, connection, options), {
    maxInboundStreams: options.maxInboundStreams ?? 4,
  });
  return async () => {
    await host.unhandle(UPDATE_PROTOCOL).catch(() => undefined);
  };
}

async function handleUpdateStream(stream: Stream, connection: Connection, options: UpdateServerOptions): Promise<void> {
  const limits = options.limits ?? DEFAULT_WIRE_LIMITS;
  const timeoutMs = options.timeoutMs ?? 30_000;
  // Attach before any await: yamux keeps only a bounded amount unread.
  const reader = new FrameReader(stream, { maxFrameBytes: limits.maxMessageBytes, timeoutMs });
  const peer = connection.remotePeer.toString();
  try {
    const admitted = options.admission?.check(connection) ?? { admitted: true };
    if (!admitted.admitted) throw new Refused(NOT_ADMITTED, admitted.reason);
    const header = decodeUpdateHeader(await expectFrame(reader, 'update header'), limits);
    await options.onHeader?.(header, peer);
    const assembler = new PayloadAssembler(header.tensors);
    while (!assembler.complete) assembleChunk(assembler, await expectFramePieces(reader, 'rest of the payload'), limits);
    const payloads = assembler.payloads();
    const update: Update = {
      runId: header.runId,
      sender: header.sender,
      baseVersion: header.baseVersion,
      round: header.round,
      sequence: header.sequence,
      slice: header.slice,
      examples: header.examples,
      metrics: header.metrics,
      tensors: header.tensors.map((t, i) => ({ name: t.name, shape: t.shape, params: t.params, payload: payloads[i] })),
    };
    const { version } = await options.onUpdate(update, peer);
    await writeFrame(stream, encodeUpdateAck({ accepted: true, code: '', reason: '', version }), { timeoutMs });
    await stream.close({ signal: AbortSignal.timeout(timeoutMs) }).catch(() => undefined);
    try {
      options.onAcknowledged?.(update, peer, version);
    } catch {
      // a listener's failure must not turn an acceptance into a refusal
    }
  } catch (e) {
    reader.dispose();
    await refuse(stream, peer, e, timeoutMs, options.onRefused, (code, reason) => encodeUpdateAck({ accepted: false, code, reason, version: 0 }));
  } finally {
    reader.dispose();
  }
}
