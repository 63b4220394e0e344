import { CoreError } from '../errors.js';
import type { AxisSelection, Slice, TensorSlice } from '../slice/slice.js';
import type { TensorCodecParams } from '../codecs/types.js';
import type { WireLimits } from './limits.js';
import { PROTOCOL_VERSION } from './limits.js';
import { decodeObject, type MessageName } from './proto.js';

/** A decoded protobuf message as a plain object. */
export type Obj = Record<string, unknown>;

/** Decodes `bytes` as `name`, refusing oversized input, malformed bytes and unknown versions. */
export function decodeChecked(name: MessageName, bytes: Uint8Array, limits: WireLimits, versioned = true): Obj {
  if (!(bytes instanceof Uint8Array)) throw new CoreError('WIRE_DECODE', 'message is not bytes', name);
  if (bytes.byteLength > limits.maxMessageBytes) {
    throw new CoreError('WIRE_LIMIT', `message of ${bytes.byteLength} bytes is over the limit of ${limits.maxMessageBytes}`, name);
  }
  let o: Obj;
  try {
    o = decodeObject(name, bytes);
  } catch (e) {
    throw new CoreError('WIRE_DECODE', `not a valid ${name} message (${(e as Error).message})`, name);
  }
  if (versioned && o.protocolVersion !== PROTOCOL_VERSION) {
    throw new CoreError('WIRE_VERSION', `protocol version ${String(o.protocolVersion)}, this build speaks ${PROTOCOL_VERSION}`, `${name}.protocol_version`);
  }
  return o;
}

export function str(o: Obj, key: string, field: string, limits: WireLimits, nonEmpty = false): string {
  const v = o[key];
  if (typeof v !== 'string') throw new CoreError('WIRE_FIELD', 'missing string', field);
  if (Buffer.byteLength(v) > limits.maxStringBytes) throw new CoreError('WIRE_LIMIT', `string longer than ${limits.maxStringBytes} bytes`, field);
  if (nonEmpty && v.length === 0) throw new CoreError('WIRE_FIELD', 'must not be empty', field);
  return v;
}

export function u32(o: Obj, key: string, field: string, min = 0, max = 0xffffffff): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new CoreError('WIRE_FIELD', 'missing integer', field);
  if (v < min || v > max) throw new CoreError('WIRE_FIELD', `${v} outside [${min}, ${max}]`, field);
  return v;
}

export function list(o: Obj, key: string, field: string, max: number): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new CoreError('WIRE_FIELD', 'missing list', field);
  if (v.length > max) throw new CoreError('WIRE_LIMIT', `${v.length} entries, the limit is ${max}`, field);
  return v;
}

export function obj(v: unknown, field: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CoreError('WIRE_FIELD', 'missing message', field);
  return v as Obj;
}

// ---- slices ----------------------------------------------------------------

export function sliceToWire(slice: Slice): Obj {
  return {
    tensors: slice.tensors.map((t) => ({
      name: t.name,
      axes: t.axes.map((a): Obj => {
        switch (a.kind) {
          case 'all':
            return { all: true };
          case 'range':
            return { range: { start: a.start, end: a.end } };
          case 'indices':
            return { indices: { indices: [...a.indices] } };
          case 'window':
            return { window: { start: a.start, length: a.length } };
        }
      }),
    })),
  };
}

/** A slice from its wire form. Only the form is checked here; `resolveSlice` checks it against the model. */
export function sliceFromWire(v: unknown, field: string, limits: WireLimits): Slice {
  const o = obj(v, field);
  const tensors = list(o, 'tensors', `${field}.tensors`, limits.maxTensors).map((tv, i): TensorSlice => {
    const f = `${field}.tensors[${i}]`;
    const t = obj(tv, f);
    const axes = list(t, 'axes', `${f}.axes`, limits.maxDims).map((av, a): AxisSelection => {
      const af = `${f}.axes[${a}]`;
      const ax = obj(av, af);
      switch (ax.selection) {
        case 'all':
          return { kind: 'all' };
        case 'range': {
          const r = obj(ax.range, `${af}.range`);
          return { kind: 'range', start: u32(r, 'start', `${af}.range.start`), end: u32(r, 'end', `${af}.range.end`) };
        }
        case 'indices': {
          const r = obj(ax.indices, `${af}.indices`);
          const ix = list(r, 'indices', `${af}.indices`, limits.maxSliceIndices) as number[];
          return { kind: 'indices', indices: ix };
        }
        case 'window': {
          const r = obj(ax.window, `${af}.window`);
          return { kind: 'window', start: u32(r, 'start', `${af}.window.start`), length: u32(r, 'length', `${af}.window.length`) };
        }
        default:
          throw new CoreError('WIRE_FIELD', 'axis selection has no kind', af);
      }
    });
    return { name: str(t, 'name', `${f}.name`, limits, true), axes };
  });
  return { tensors };
}

// ---- tensor headers ----------------------------------------------------------

const CODEC_TO_WIRE = { fp32: 'FP32', fp16: 'FP16', bf16: 'BF16', int8: 'INT8', int4: 'INT4', demo: 'DEMO' } as const;

export interface TensorHeaderInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly params: TensorCodecParams;
  readonly payloadBytes: number;
}

export function tensorHeaderToWire(h: TensorHeaderInfo): Obj {
  const p = h.params;
  const o: Obj = { name: h.name, shape: [...h.shape], codec: CODEC_TO_WIRE[p.codec], payloadBytes: h.payloadBytes };
  if (p.codec === 'int8' || p.codec === 'int4') o.blockSize = p.blockSize;
  if (p.codec === 'demo') {
    o.chunkRows = p.chunkRows;
    o.chunkCols = p.chunkCols;
    o.topk = p.topk;
    o.demoValues = p.values === 'fp16' ? 'DEMO_FP16' : 'DEMO_SIGN';
  }
  return o;
}

/** Form of a tensor header; the payload size is checked against the codec by the caller. */
export function tensorHeaderFromWire(v: unknown, field: string, limits: WireLimits): TensorHeaderInfo {
  const o = obj(v, field);
  const name = str(o, 'name', `${field}.name`, limits, true);
  const shape = list(o, 'shape', `${field}.shape`, limits.maxDims) as number[];
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 1) throw new CoreError('WIRE_FIELD', `dimension ${d} is not a positive integer`, `${field}.shape`);
    n *= d;
    if (n > limits.maxTensorBytes) throw new CoreError('WIRE_LIMIT', `tensor of over ${limits.maxTensorBytes} elements`, `${field}.shape`);
  }
  const payloadBytes = u32(o, 'payloadBytes', `${field}.payload_bytes`, 0, limits.maxTensorBytes);
  let params: TensorCodecParams;
  switch (o.codec) {
    case 'FP32':
    case 'FP16':
    case 'BF16':
      params = { codec: (o.codec as string).toLowerCase() as 'fp32' | 'fp16' | 'bf16' };
      break;
    case 'INT8':
      params = { codec: 'int8', blockSize: u32(o, 'blockSize', `${field}.block_size`, 32, 4096) };
      break;
    case 'INT4':
      params = { codec: 'int4', blockSize: u32(o, 'blockSize', `${field}.block_size`, 32, 4096) };
      break;
    case 'DEMO': {
      const values = o.demoValues === 'DEMO_FP16' ? 'fp16' : o.demoValues === 'DEMO_SIGN' ? 'sign' : null;
      if (values === null) throw new CoreError('UPDATE_CODEC', `unknown DeMo value format ${String(o.demoValues)}`, `${field}.demo_values`);
      params = {
        codec: 'demo',
        chunkRows: u32(o, 'chunkRows', `${field}.chunk_rows`, 1, 65536),
        chunkCols: u32(o, 'chunkCols', `${field}.chunk_cols`, 1, 65536),
        topk: u32(o, 'topk', `${field}.topk`, 1, 65536),
        values,
      };
      break;
    }
    default:
      throw new CoreError('UPDATE_CODEC', `unknown codec ${String(o.codec)}`, `${field}.codec`);
  }
  return { name, shape, params, payloadBytes };
}
