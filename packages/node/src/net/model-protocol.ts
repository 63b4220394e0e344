/**
 * `/fednode/model/1`: a peer asks for a model version (or the latest), a slice and a dense
 * codec; the server answers with a ModelResponse frame (the tensor headers, or not found
 * with a code) followed by the payloads as chunk frames.
 */
import {
  CoreError,
  DEFAULT_FRAME_BYTES,
  DEFAULT_WIRE_LIMITS,
  ParamSet,
  PayloadAssembler,
  codecFor,
  decodeModelRequest,
  decodeModelResponse,
  encodeModelRequest,
  encodeModelResponse,
  extractSlice,
  fullSlice,
  resolveSlice,
  type EncodedTensor,
  type ModelCodec,
  type ModelRequest,
  type Slice,
  type WireLimits,
} from '@fednode/core';
import type { Connection, Stream } from '@libp2p/interface';
import type { FedHost } from './host.js';
import { NOT_ADMITTED, type Admission } from './admission.js';
import { openStream, type PeerTarget } from './dial.js';
import { FrameReader, abortQuietly, expectFrame, expectFramePieces, writeFrame, writeFrames } from './frames.js';
import { assembleChunk, payloadChunkFrames } from './chunk-frames.js';
import { NetError, Refused } from './errors.js';
import { refuse } from './answer.js';

export const MODEL_PROTOCOL = '/fednode/model/1';

/** The code a server answers when it has no such model version. */
export const MODEL_NOT_FOUND = 'MODEL_NOT_FOUND';

/** Model requests are small. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export interface PulledModel {
  readonly version: number;
  readonly round: number;
  /** The slice the parameters cover (the whole model when none was asked for). */
  readonly slice: Slice;
  /** The slice's local tensors, decoded to fp32. */
  readonly params: ParamSet;
}

export interface PullOptions {
  /** Longest wait for each step (connecting, each frame), ms (default 30 s). */
  readonly timeoutMs?: number;
  readonly admission?: Admission;
  readonly limits?: WireLimits;
}

/** Pulls a model (slice) from `target`. Not found or refused: NET_REFUSED with the server's code. */
export async function pullModel(host: FedHost, target: PeerTarget, request: ModelRequest, options: PullOptions = {}): Promise<PulledModel> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const limits = options.limits ?? DEFAULT_WIRE_LIMITS;
  const { stream, connection } = await openStream(host, target, MODEL_PROTOCOL, { timeoutMs, admission: options.admission });
  const remote = connection.remotePeer.toString();
  const reader = new FrameReader(stream, { maxFrameBytes: limits.maxMessageBytes, timeoutMs });
  try {
    await writeFrame(stream, encodeModelRequest(request), { timeoutMs });
    await stream.close({ signal: AbortSignal.timeout(timeoutMs) });
    const bytes = await expectFrame(reader, 'model response');
    const r = protocolStep(remote, 'model response', () => decodeModelResponse(bytes, limits));
    if (!r.found) throw new NetError('NET_REFUSED', `${remote} has no model for the request: ${r.code}: ${r.reason}`, { remoteCode: r.code || MODEL_NOT_FOUND });
    if (r.runId !== request.runId) throw new NetError('NET_PROTOCOL', `${remote} answered for run "${r.runId}", we asked for "${request.runId}"`);
    if (request.version !== 'latest' && r.version !== request.version) {
      throw new NetError('NET_PROTOCOL', `${remote} answered with version ${r.version}, we asked for ${request.version}`);
    }
    const assembler = new PayloadAssembler(r.tensors);
    while (!assembler.complete) {
      const frame = await expectFramePieces(reader, 'rest of the model');
      protocolStep(remote, 'model chunk', () => assembleChunk(assembler, frame, limits));
    }
    const payloads = assembler.payloads();
    // Allocated only now that every byte arrived: memory follows what was received.
    const params = protocolStep(remote, 'model', () => {
      const p = ParamSet.zeros(r.tensors.map((t) => ({ name: t.name, shape: t.shape })));
      r.tensors.forEach((t, i) => codecFor(t.params).decode(payloads[i], t.shape, t.params, p.tensor(t.name), `tensors[${i}](${t.name})`));
      return p;
    });
    return { version: r.version, round: r.round, slice: r.slice, params };
  } catch (e) {
    abortQuietly(stream, e as Error);
    throw e;
  } finally {
    reader.dispose();
  }
}

/** Runs a decoding step, turning the remote's bad data into NET_PROTOCOL. */
function protocolStep<T>(remote: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CoreError) throw new NetError('NET_PROTOCOL', `${remote} sent a bad ${what}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** What a model provider returns: the whole global model at a version. */
export interface ProvidedModel {
  readonly version: number;
  readonly round: number;
  readonly params: ParamSet;
  /**
   * The whole model encoded with `codec`, for a provider that keeps one encoding per version:
   * every trainer asks for the new version at once, and an encoding per request held dozens
   * of copies of the model in flight (docs/daemon-memory.md). The payloads are only read.
   */
  readonly encoded?: (codec: ModelCodec) => readonly EncodedTensor[];
}

export interface ModelServerOptions {
  readonly limits?: WireLimits;
  /** Longest wait for the request and for the requester to take more bytes, ms (default 30 s). */
  readonly timeoutMs?: number;
  readonly admission?: Admission;
  /** Payload bytes per chunk frame (default 1 MiB). */
  readonly frameBytes?: number;
  /**
   * The model for a request from `peer` (authenticated): null when there is no such
   * version; throw `Refused` to refuse. The server cuts the slice and encodes it.
   */
  readonly provide: (request: ModelRequest, peer: string) => ProvidedModel | null | Promise<ProvidedModel | null>;
  readonly onRefused?: (peer: string, code: string, reason: string) => void;
  /** Concurrent model streams per connection (default 4). */
  readonly maxInboundStreams?: number;
}

/** Serves `/fednode/model/1` on `host`; returns a function that stops serving. */
export async function serveModels(host: FedHost, options: ModelServerOptions): Promise<() => Promise<void>> {
  await host.handle(MODEL_PROTOCOL, (stream, connection) => handleModelStream(stream, connection, options), {
    maxInboundStreams: options.maxInboundStreams ?? 4,
  });
  return async () => {
    await host.unhandle(MODEL_PROTOCOL).catch(() => undefined);
  };
}

async function handleModelStream(stream: Stream, connection: Connection, options: ModelServerOptions): Promise<void> {
  const limits = options.limits ?? DEFAULT_WIRE_LIMITS;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const reader = new FrameReader(stream, { maxFrameBytes: Math.min(limits.maxMessageBytes, MAX_REQUEST_BYTES), timeoutMs });
  const peer = connection.remotePeer.toString();
  let runId = '-';
  let answering = false;
  try {
    const admitted = options.admission?.check(connection) ?? { admitted: true };
    if (!admitted.admitted) throw new Refused(NOT_ADMITTED, admitted.reason);
    const request = decodeModelRequest(await expectFrame(reader, 'model request'), limits);
    runId = request.runId;
    const model = await options.provide(request, peer);
    if (model === null) {
      const v = request.version === 'latest' ? 'latest' : `version ${request.version}`;
      throw new Refused(MODEL_NOT_FOUND, `no model ${v} in run "${request.runId}"`);
    }
    const slice = request.slice ?? fullSlice(model.params.specs);
    const resolved = resolveSlice(slice, model.params.specs);
    const tensors = model.encoded !== undefined && isWholeModel(resolved, model.params) ? model.encoded(request.codec) : encodeSlice(model.params, resolved, request.codec);
    const header = encodeModelResponse({
      runId: request.runId,
      found: true,
      code: '',
      reason: '',
      version: model.version,
      round: model.round,
      slice,
      tensors: tensors.map((t) => ({ name: t.name, shape: t.shape, params: t.params, payloadBytes: t.payload.byteLength })),
    });
    answering = true;
    await writeFrame(stream, header, { timeoutMs });
    await writeFrames(stream, payloadChunkFrames(tensors, options.frameBytes ?? DEFAULT_FRAME_BYTES), { timeoutMs });
    await stream.close({ signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    reader.dispose();
    // Once the answer has begun, a refusal frame would read as a bad chunk: just abort.
    await refuse(stream, peer, e, timeoutMs, options.onRefused, (code, reason) =>
      answering ? null : encodeModelResponse({ runId, found: false, code, reason, version: 0, round: 0, slice: { tensors: [] }, tensors: [] }),
    );
  } finally {
    reader.dispose();
  }
}

/** True when `resolved` is every tensor of `model`, whole and in its order: the slice's local tensors are the model's. */
function isWholeModel(resolved: ReturnType<typeof resolveSlice>, model: ParamSet): boolean {
  const specs = model.specs;
  return resolved.tensors.length === specs.length && resolved.tensors.every((t, i) => t.whole && t.name === specs[i].name);
}

function encodeSlice(model: ParamSet, resolved: ReturnType<typeof resolveSlice>, codec: ModelCodec): EncodedTensor[] {
  const local = extractSlice(model, resolved);
  const params = { codec } as const;
  return local.specs.map((s) => ({ name: s.name, shape: s.shape, params, payload: codecFor(params).encode(local.tensor(s.name), s.shape, params) }));
}

/** `params` encoded whole with `codec`, as a model server sends it (the codecs copy: the payloads do not follow `params`). */
export function encodeWholeModel(params: ParamSet, codec: ModelCodec): EncodedTensor[] {
  const p = { codec } as const;
  return params.specs.map((s) => ({ name: s.name, shape: s.shape, params: p, payload: codecFor(p).encode(params.tensor(s.name), s.shape, p) }));
}
