import { CoreError } from '../errors.js';
import type { Slice } from '../slice/slice.js';
import { DEFAULT_WIRE_LIMITS, PROTOCOL_VERSION, type WireLimits } from './limits.js';
import { encodeMessage } from './proto.js';
import { decodeChecked, list, obj, str, u32, sliceFromWire, sliceToWire, tensorHeaderFromWire, tensorHeaderToWire, type TensorHeaderInfo } from './validate.js';
import { payloadBytes as expectedPayloadBytes } from '../codecs/registry.js';

// ---- update acknowledgement ----------------------------------------------------

export interface UpdateAck {
  readonly accepted: boolean;
  /** Stable refusal code when not accepted. */
  readonly code: string;
  readonly reason: string;
  readonly version: number;
}

export function encodeUpdateAck(a: UpdateAck): Uint8Array {
  return encodeMessage('UpdateAck', { protocolVersion: PROTOCOL_VERSION, ...a });
}

export function decodeUpdateAck(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): UpdateAck {
  const o = decodeChecked('UpdateAck', bytes, limits);
  const wide = { ...limits, maxStringBytes: Math.max(limits.maxStringBytes, 1024) };
  return { accepted: o.accepted === true, code: str(o, 'code', 'code', limits), reason: str(o, 'reason', 'reason', wide), version: u32(o, 'version', 'version') };
}

// ---- model requests and responses -------------------------------------------

export type ModelCodec = 'fp32' | 'fp16' | 'bf16';

export interface ModelRequest {
  readonly runId: string;
  /** A version number, or 'latest'. */
  readonly version: number | 'latest';
  /** The part of the model wanted; null for the whole model. */
  readonly slice: Slice | null;
  readonly codec: ModelCodec;
}

export function encodeModelRequest(r: ModelRequest): Uint8Array {
  return encodeMessage('ModelRequest', {
    protocolVersion: PROTOCOL_VERSION,
    runId: r.runId,
    latest: r.version === 'latest',
    version: r.version === 'latest' ? 0 : r.version,
    slice: r.slice === null ? { tensors: [] } : sliceToWire(r.slice),
    codec: r.codec.toUpperCase(),
  });
}

export function decodeModelRequest(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): ModelRequest {
  const o = decodeChecked('ModelRequest', bytes, limits);
  const slice = sliceFromWire(o.slice, 'slice', limits);
  const codec = o.codec === 'CODEC_UNSPECIFIED' || o.codec === 'FP32' ? 'fp32' : o.codec === 'FP16' ? 'fp16' : o.codec === 'BF16' ? 'bf16' : null;
  if (codec === null) throw new CoreError('UPDATE_CODEC', `models travel as fp32, fp16 or bf16, not ${String(o.codec)}`, 'codec');
  return {
    runId: str(o, 'runId', 'run_id', limits, true),
    version: o.latest === true ? 'latest' : u32(o, 'version', 'version'),
    slice: slice.tensors.length === 0 ? null : slice,
    codec,
  };
}

export interface ModelResponse {
  readonly runId: string;
  readonly found: boolean;
  readonly code: string;
  readonly reason: string;
  readonly version: number;
  readonly round: number;
  readonly slice: Slice;
  /** Headers of the tensors whose payloads follow as chunk frames. */
  readonly tensors: readonly TensorHeaderInfo[];
}

export function encodeModelResponse(r: ModelResponse): Uint8Array {
  return encodeMessage('ModelResponse', {
    protocolVersion: PROTOCOL_VERSION,
    runId: r.runId,
    found: r.found,
    code: r.code,
    reason: r.reason,
    version: r.version,
    round: r.round,
    slice: sliceToWire(r.slice),
    tensors: r.tensors.map(tensorHeaderToWire),
  });
}

export function decodeModelResponse(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): ModelResponse {
  const o = decodeChecked('ModelResponse', bytes, limits);
  const tensors = list(o, 'tensors', 'tensors', limits.maxTensors).map((t, i) => tensorHeaderFromWire(t, `tensors[${i}]`, limits));
  let total = 0;
  tensors.forEach((t, i) => {
    if (t.params.codec !== 'fp32' && t.params.codec !== 'fp16' && t.params.codec !== 'bf16') {
      throw new CoreError('UPDATE_CODEC', `models travel dense, not as ${t.params.codec}`, `tensors[${i}].codec`);
    }
    const want = expectedPayloadBytes(t.shape, t.params);
    if (want !== t.payloadBytes) throw new CoreError('WIRE_LENGTH', `declares ${t.payloadBytes} bytes, needs ${want}`, `tensors[${i}].payload_bytes`);
    total += want;
  });
  if (total > limits.maxTotalBytes) throw new CoreError('WIRE_LIMIT', `payloads total ${total} bytes, the limit is ${limits.maxTotalBytes}`, 'tensors');
  const wide = { ...limits, maxStringBytes: Math.max(limits.maxStringBytes, 1024) };
  return {
    runId: str(o, 'runId', 'run_id', limits, true),
    found: o.found === true,
    code: str(o, 'code', 'code', limits),
    reason: str(o, 'reason', 'reason', wide),
    version: u32(o, 'version', 'version'),
    round: u32(o, 'round', 'round'),
    slice: sliceFromWire(o.slice, 'slice', limits),
    tensors,
  };
}

// ---- gossip control messages ---------------------------------------------------

/** Gossip control messages stay far below gossipsub's 4 MiB ceiling. */
export const MAX_CONTROL_BYTES = 64 * 1024;

export type ControlBody =
  | {
      readonly kind: 'roundOpen';
      readonly round: number;
      readonly modelVersion: number;
      readonly deadlineUnixMs: number;
      readonly assignments: readonly { readonly peer: string; readonly slice: Slice }[];
    }
  | { readonly kind: 'modelAnnounce'; readonly version: number; readonly round: number; readonly sha256: Uint8Array; readonly parameters: number }
  | { readonly kind: 'heartbeat'; readonly role: string; readonly version: number; readonly step: number; readonly timeUnixMs: number; readonly addrs?: readonly string[] }
  /** A decentralised peer announces the first step it contributes to, so every peer starts waiting for it at the same step. */
  | { readonly kind: 'peerJoin'; readonly step: number };

export interface Control {
  readonly runId: string;
  readonly body: ControlBody;
}

export function encodeControl(c: Control): Uint8Array {
  const b = c.body;
  const body: Record<string, unknown> =
    b.kind === 'roundOpen'
      ? { roundOpen: { round: b.round, modelVersion: b.modelVersion, deadlineUnixMs: b.deadlineUnixMs, assignments: b.assignments.map((a) => ({ peer: a.peer, slice: sliceToWire(a.slice) })) } }
      : b.kind === 'modelAnnounce'
        ? { modelAnnounce: { version: b.version, round: b.round, sha256: b.sha256, parameters: b.parameters } }
        : b.kind === 'heartbeat'
          ? { heartbeat: { role: b.role, version: b.version, step: b.step, timeUnixMs: b.timeUnixMs, addrs: [...(b.addrs ?? [])] } }
          : { peerJoin: { step: b.step } };
  const bytes = encodeMessage('Control', { protocolVersion: PROTOCOL_VERSION, runId: c.runId, ...body });
  if (bytes.byteLength > MAX_CONTROL_BYTES) {
    throw new CoreError('WIRE_LIMIT', `control message of ${bytes.byteLength} bytes is over ${MAX_CONTROL_BYTES}; send tensors on a stream`, 'control');
  }
  return bytes;
}

function safeMs(o: Record<string, unknown>, key: string, field: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new CoreError('WIRE_FIELD', 'missing or unsafe timestamp', field);
  return v;
}

export function decodeControl(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): Control {
  const o = decodeChecked('Control', bytes, { ...limits, maxMessageBytes: Math.min(limits.maxMessageBytes, MAX_CONTROL_BYTES) });
  const runId = str(o, 'runId', 'run_id', limits, true);
  switch (o.body) {
    case 'roundOpen': {
      const r = obj(o.roundOpen, 'round_open');
      const assignments = list(r, 'assignments', 'round_open.assignments', limits.maxTensors).map((av, i) => {
        const a = obj(av, `round_open.assignments[${i}]`);
        return { peer: str(a, 'peer', `round_open.assignments[${i}].peer`, limits, true), slice: sliceFromWire(a.slice, `round_open.assignments[${i}].slice`, limits) };
      });
      return {
        runId,
        body: { kind: 'roundOpen', round: u32(r, 'round', 'round_open.round'), modelVersion: u32(r, 'modelVersion', 'round_open.model_version'), deadlineUnixMs: safeMs(r, 'deadlineUnixMs', 'round_open.deadline_unix_ms'), assignments },
      };
    }
    case 'modelAnnounce': {
      const m = obj(o.modelAnnounce, 'model_announce');
      const sha = m.sha256;
      if (!(sha instanceof Uint8Array) || sha.byteLength !== 32) throw new CoreError('WIRE_FIELD', 'sha256 must be 32 bytes', 'model_announce.sha256');
      return { runId, body: { kind: 'modelAnnounce', version: u32(m, 'version', 'model_announce.version'), round: u32(m, 'round', 'model_announce.round'), sha256: sha, parameters: u32(m, 'parameters', 'model_announce.parameters') } };
    }
    case 'heartbeat': {
      const h = obj(o.heartbeat, 'heartbeat');
      const addrs = list(h, 'addrs', 'heartbeat.addrs', 16).map((a, i) => {
        if (typeof a !== 'string' || Buffer.byteLength(a) > 512) throw new CoreError('WIRE_FIELD', 'not an address string of at most 512 bytes', `heartbeat.addrs[${i}]`);
        return a;
      });
      const body = { kind: 'heartbeat' as const, role: str(h, 'role', 'heartbeat.role', limits), version: u32(h, 'version', 'heartbeat.version'), step: u32(h, 'step', 'heartbeat.step'), timeUnixMs: safeMs(h, 'timeUnixMs', 'heartbeat.time_unix_ms') };
      return { runId, body: addrs.length > 0 ? { ...body, addrs } : body };
    }
    case 'peerJoin': {
      const j = obj(o.peerJoin, 'peer_join');
      return { runId, body: { kind: 'peerJoin', step: u32(j, 'step', 'peer_join.step') } };
    }
    default:
      throw new CoreError('WIRE_FIELD', 'control message has no body', 'body');
  }
}
