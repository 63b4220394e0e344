import { CoreError } from '../errors.js';

/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON header, then the tensor bytes. The header maps each
 * tensor name to {dtype, shape, data_offsets: [begin, end)} relative to the byte buffer,
 * plus an optional "__metadata__" map of strings. We pad the header with spaces so the
 * byte buffer starts 8-byte aligned, and lay tensors out contiguously in header order.
 */
export type SafeDType = 'F32' | 'F16' | 'BF16' | 'I8' | 'U8';

const DTYPE_BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, I8: 1, U8: 1 };

export interface SafeTensor {
  readonly name: string;
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  /** Raw little-endian element bytes. */
  readonly bytes: Uint8Array;
}

export interface SafeFile {
  readonly tensors: readonly SafeTensor[];
  readonly metadata: Readonly<Record<string, string>>;
}

export interface SafeLimits {
  /** Largest header accepted, in bytes (default 100 MB, as the reference implementation). */
  maxHeaderBytes?: number;
}

const ALIGN = 8;

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Serialises tensors and metadata; returns the parts to write in order (header, then each tensor's bytes). */
export function encodeSafetensors(tensors: readonly SafeTensor[], metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__' || names.has(t.name)) {
      throw new CoreError('CHECKPOINT_CORRUPT', `tensor name "${t.name}" is reserved or repeated`, 'tensors');
    }
    names.add(t.name);
    const size = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.bytes.byteLength !== size) {
      throw new CoreError('CHECKPOINT_CORRUPT', `has ${t.bytes.byteLength} bytes, ${t.dtype} [${t.shape.join(', ')}] needs ${size}`, t.name);
    }
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  const raw = new TextEncoder().encode(json);
  const padded = Math.ceil((8 + raw.length) / ALIGN) * ALIGN - 8;
  json += ' '.repeat(padded - raw.length);
  const head = new Uint8Array(8 + padded);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(new TextEncoder().encode(json), 8);
  return [head, ...tensors.map((t) => t.bytes)];
}

/** As `encodeSafetensors`, joined into one buffer (for blobs kept in memory or sent whole). */
export function encodeSafetensorsBytes(tensors: readonly SafeTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const parts = encodeSafetensors(tensors, metadata);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Parses a whole safetensors file. Everything is checked before any tensor is returned:
 * header length against the file, JSON shape, dtypes, shapes against offsets, offsets
 * contiguous and covering the byte buffer exactly. Tensor bytes are views into `file`.
 */
export function parseSafetensors(file: Uint8Array, limits: SafeLimits = {}): SafeFile {
  const maxHeader = limits.maxHeaderBytes ?? 100_000_000;
  if (file.byteLength < 8) throw new CoreError('CHECKPOINT_TRUNCATED', `file has ${file.byteLength} bytes, shorter than the 8-byte header length`);
  const n = new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(maxHeader)) throw new CoreError('CHECKPOINT_CORRUPT', `header length ${n} over the limit ${maxHeader}`, 'header');
  const headerLen = Number(n);
  if (8 + headerLen > file.byteLength) {
    throw new CoreError('CHECKPOINT_TRUNCATED', `header needs ${headerLen} bytes, file has ${file.byteLength - 8} after the length`, 'header');
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new CoreError('CHECKPOINT_CORRUPT', `header is not valid UTF-8 JSON (${(e as Error).message})`, 'header');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new CoreError('CHECKPOINT_CORRUPT', 'header is not a JSON object', 'header');
  }
  const body = file.subarray(8 + headerLen);
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafeDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CoreError('CHECKPOINT_CORRUPT', 'must be an object of strings', '__metadata__');
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') throw new CoreError('CHECKPOINT_CORRUPT', 'value is not a string', `__metadata__.${k}`);
        metadata[k] = s;
      }
      continue;
    }
    entries.push(checkEntry(name, v));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expect = 0;
  for (const e of entries) {
    if (e.begin !== expect) throw new CoreError('CHECKPOINT_CORRUPT', `data starts at ${e.begin}, expected ${expect} (tensors must be contiguous)`, e.name);
    expect = e.end;
  }
  if (expect > body.byteLength) {
    throw new CoreError('CHECKPOINT_TRUNCATED', `tensors need ${expect} data bytes, the file holds ${body.byteLength}`, 'data');
  }
  if (expect !== body.byteLength) {
    throw new CoreError('CHECKPOINT_CORRUPT', `tensors cover ${expect} data bytes, the file holds ${body.byteLength}`, 'data');
  }
  const tensors = entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, bytes: body.subarray(e.begin, e.end) }));
  return { tensors, metadata };
}

function checkEntry(name: string, v: unknown): { name: string; dtype: SafeDType; shape: number[]; begin: number; end: number } {
  if (v === null || typeof v !== 'object') throw new CoreError('CHECKPOINT_CORRUPT', 'entry is not an object', name);
  const { dtype, shape, data_offsets: off } = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new CoreError('CHECKPOINT_CORRUPT', `dtype ${JSON.stringify(dtype)} is not one of ${Object.keys(DTYPE_BYTES).join(', ')}`, `${name}.dtype`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new CoreError('CHECKPOINT_CORRUPT', 'shape is not a list of non-negative integers', `${name}.shape`);
  }
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
    throw new CoreError('CHECKPOINT_CORRUPT', 'data_offsets is not [begin, end] with 0 <= begin <= end', `${name}.data_offsets`);
  }
  const size = numel(shape as number[]) * DTYPE_BYTES[dtype as SafeDType];
  if (off[1] - off[0] !== size) {
    throw new CoreError('CHECKPOINT_CORRUPT', `data_offsets span ${off[1] - off[0]} bytes, ${dtype} [${shape.join(', ')}] needs ${size}`, `${name}.data_offsets`);
  }
  return { name, dtype: dtype as SafeDType, shape: shape as number[], begin: off[0] as number, end: off[1] as number };
}

/** Little-endian bytes of a Float32Array (a view when the platform is little-endian, as every supported one is). */
export function float32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Float32 values of F32 tensor bytes, copied so the result is aligned and owns its memory. */
export function float32FromBytes(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
