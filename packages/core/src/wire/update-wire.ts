import { CoreError } from '../errors.js';
import type { Update } from '../update/update.js';
import type { EncodedTensor } from '../codecs/types.js';
import { payloadBytes as expectedPayloadBytes } from '../codecs/registry.js';
import type { Slice } from '../slice/slice.js';
import { DEFAULT_WIRE_LIMITS, PROTOCOL_VERSION, type WireLimits } from './limits.js';
import { encodeMessage } from './proto.js';
import {
  decodeChecked,
  list,
  obj,
  str,
  u32,
  sliceFromWire,
  sliceToWire,
  tensorHeaderFromWire,
  tensorHeaderToWire,
  type TensorHeaderInfo,
} from './validate.js';

/** Default size of one tensor chunk frame's data. */
export const DEFAULT_FRAME_BYTES = 1024 * 1024;

/** An update's header as decoded and validated, before its payloads arrive. */
export interface UpdateHeaderInfo {
  readonly runId: string;
  readonly sender: string;
  readonly baseVersion: number;
  readonly round: number;
  readonly sequence: number;
  readonly slice: Slice;
  readonly examples: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly tensors: readonly TensorHeaderInfo[];
}

export function encodeUpdateHeader(u: Update): Uint8Array {
  return encodeMessage('UpdateHeader', {
    protocolVersion: PROTOCOL_VERSION,
    runId: u.runId,
    sender: u.sender,
    baseVersion: u.baseVersion,
    round: u.round,
    sequence: u.sequence,
    slice: sliceToWire(u.slice),
    examples: u.examples,
    metrics: { ...u.metrics },
    tensors: u.tensors.map((t) => tensorHeaderToWire({ name: t.name, shape: t.shape, params: t.params, payloadBytes: t.payload.byteLength })),
  });
}

/**
 * Decodes and validates an update header: form, limits, and each tensor's declared payload
 * size against exactly what its codec needs for its shape and parameters.
 */
export function decodeUpdateHeader(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): UpdateHeaderInfo {
  const o = decodeChecked('UpdateHeader', bytes, limits);
  const metricsObj = obj(o.metrics, 'metrics');
  const keys = Object.keys(metricsObj);
  if (keys.length > limits.maxMetrics) throw new CoreError('WIRE_LIMIT', `${keys.length} metrics, the limit is ${limits.maxMetrics}`, 'metrics');
  const metrics: Record<string, number> = {};
  for (const k of keys) {
    const v = metricsObj[k];
    if (Buffer.byteLength(k) > limits.maxStringBytes) throw new CoreError('WIRE_LIMIT', 'metric name too long', 'metrics');
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new CoreError('UPDATE_NON_FINITE', `metric is ${String(v)}`, `metrics.${k}`);
    metrics[k] = v;
  }
  const tensors = list(o, 'tensors', 'tensors', limits.maxTensors).map((t, i) => tensorHeaderFromWire(t, `tensors[${i}]`, limits));
  let total = 0;
  tensors.forEach((t, i) => {
    let want: number;
    try {
      want = expectedPayloadBytes(t.shape, t.params);
    } catch (e) {
      if (e instanceof CoreError) throw new CoreError(e.code, e.message, `tensors[${i}]`);
      throw e;
    }
    if (want !== t.payloadBytes) {
      throw new CoreError('WIRE_LENGTH', `declares ${t.payloadBytes} payload bytes, ${t.params.codec} of [${t.shape.join(', ')}] needs ${want}`, `tensors[${i}].payload_bytes`);
    }
    total += want;
  });
  if (total > limits.maxTotalBytes) throw new CoreError('WIRE_LIMIT', `payloads total ${total} bytes, the limit is ${limits.maxTotalBytes}`, 'tensors');
  return {
    runId: str(o, 'runId', 'run_id', limits, true),
    sender: str(o, 'sender', 'sender', limits),
    baseVersion: u32(o, 'baseVersion', 'base_version'),
    round: u32(o, 'round', 'round'),
    sequence: u32(o, 'sequence', 'sequence'),
    slice: sliceFromWire(o.slice, 'slice', limits),
    examples: u32(o, 'examples', 'examples'),
    metrics,
    tensors,
  };
}

export interface TensorChunk {
  readonly tensor: number;
  readonly offset: number;
  readonly data: Uint8Array;
}

export function encodeTensorChunk(c: TensorChunk): Uint8Array {
  return encodeMessage('TensorChunk', { protocolVersion: PROTOCOL_VERSION, tensor: c.tensor, offset: c.offset, data: c.data });
}

export function decodeTensorChunk(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): TensorChunk {
  const o = decodeChecked('TensorChunk', bytes, limits);
  const data = o.data;
  if (!(data instanceof Uint8Array)) throw new CoreError('WIRE_FIELD', 'missing bytes', 'data');
  return { tensor: u32(o, 'tensor', 'tensor'), offset: u32(o, 'offset', 'offset'), data };
}

/** Chunk frames carrying `tensors`' payloads in order, each at most `frameBytes` of data. */
export function* payloadFrames(tensors: readonly EncodedTensor[], frameBytes = DEFAULT_FRAME_BYTES): Generator<Uint8Array> {
  for (let i = 0; i < tensors.length; i++) {
    const p = tensors[i].payload;
    for (let off = 0; off < p.byteLength; off += frameBytes) {
      yield encodeTensorChunk({ tensor: i, offset: off, data: p.subarray(off, Math.min(p.byteLength, off + frameBytes)) });
    }
  }
}

/** Every frame of an update: the header, then the payload chunks. */
export function updateToFrames(u: Update, frameBytes = DEFAULT_FRAME_BYTES): Uint8Array[] {
  return [encodeUpdateHeader(u), ...payloadFrames(u.tensors, frameBytes)];
}

/**
 * Reassembles payloads from chunk frames against validated tensor headers. Frames must come
 * in order (tensor by tensor, offsets contiguous). Memory grows only with bytes actually
 * received, never with what a header declares.
 */
export class PayloadAssembler {
  private readonly headers: readonly TensorHeaderInfo[];
  private readonly done: Uint8Array[] = [];
  private pieces: Uint8Array[] = [];
  private current = 0;
  private offset = 0;

  constructor(headers: readonly TensorHeaderInfo[]) {
    this.headers = headers;
    this.skipEmpty();
  }

  get complete(): boolean {
    return this.current >= this.headers.length;
  }

  push(chunk: TensorChunk): void {
    if (this.complete) throw new CoreError('WIRE_LENGTH', 'a chunk arrived after every payload was complete', 'chunk.tensor');
    if (chunk.tensor !== this.current) throw new CoreError('WIRE_FIELD', `chunk for tensor ${chunk.tensor}, expected ${this.current}`, 'chunk.tensor');
    if (chunk.offset !== this.offset) throw new CoreError('WIRE_FIELD', `chunk at offset ${chunk.offset}, expected ${this.offset}`, 'chunk.offset');
    const want = this.headers[this.current].payloadBytes;
    if (chunk.data.byteLength === 0) throw new CoreError('WIRE_FIELD', 'empty chunk', 'chunk.data');
    if (this.offset + chunk.data.byteLength > want) {
      throw new CoreError('WIRE_LENGTH', `chunk runs to byte ${this.offset + chunk.data.byteLength}, the payload has ${want}`, 'chunk.data');
    }
    this.pieces.push(chunk.data);
    this.offset += chunk.data.byteLength;
    if (this.offset === want) {
      this.done.push(concat(this.pieces, want));
      this.pieces = [];
      this.offset = 0;
      this.current++;
      this.skipEmpty();
    }
  }

  /** The payloads, once complete. */
  payloads(): Uint8Array[] {
    if (!this.complete) {
      throw new CoreError('WIRE_LENGTH', `payload of tensor ${this.current} has ${this.offset} of ${this.headers[this.current].payloadBytes} bytes`, 'chunk');
    }
    return this.done;
  }

  private skipEmpty(): void {
    while (this.current < this.headers.length && this.headers[this.current].payloadBytes === 0) {
      this.done.push(new Uint8Array(0));
      this.current++;
    }
  }
}

function concat(pieces: Uint8Array[], total: number): Uint8Array {
  if (pieces.length === 1 && pieces[0].byteOffset % 8 === 0) return pieces[0];
  // Every byte is overwritten below, so skip the zero-fill (64 MiB payloads made it costly);
  // allocUnsafeSlow gives the payload its own buffer, not a slice of Node's shared pool.
  const b = Buffer.allocUnsafeSlow(total);
  const out = new Uint8Array(b.buffer, b.byteOffset, total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Decodes a complete list of frames (header first) into an update; payload contents are checked by `decodeUpdateTensors`. */
export function updateFromFrames(frames: readonly Uint8Array[], limits: WireLimits = DEFAULT_WIRE_LIMITS): Update {
  if (frames.length === 0) throw new CoreError('WIRE_LENGTH', 'no frames', 'frames');
  const h = decodeUpdateHeader(frames[0], limits);
  const asm = new PayloadAssembler(h.tensors);
  for (let i = 1; i < frames.length; i++) asm.push(decodeTensorChunk(frames[i], limits));
  const payloads = asm.payloads();
  return {
    runId: h.runId,
    sender: h.sender,
    baseVersion: h.baseVersion,
    round: h.round,
    sequence: h.sequence,
    slice: h.slice,
    examples: h.examples,
    metrics: h.metrics,
    tensors: h.tensors.map((t, i) => ({ name: t.name, shape: t.shape, params: t.params, payload: payloads[i] })),
  };
}
