import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError } from './errors.js';

/**
 * The idx format of MNIST and Fashion-MNIST: a 4-byte magic (two zero bytes, a type code, the
 * number of dimensions), one big-endian uint32 per dimension, then the values. Only unsigned
 * bytes (type 0x08) occur in these datasets, so that is all this reader accepts.
 */
export interface IdxArray {
  readonly dims: readonly number[];
  /** The values, row-major; a view into the file's bytes. */
  readonly data: Uint8Array;
}

const UBYTE = 0x08;

/** `values`: how many bytes follow the header when `bytes` is the header alone (readIdxHeader). */
export function parseIdx(bytes: Uint8Array, what = 'idx data', values?: number): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new DataError('DATA_FORMAT', `${what}: not an idx file (bad magic)`);
  if (bytes[2] !== UBYTE) throw new DataError('DATA_FORMAT', `${what}: idx type 0x${bytes[2].toString(16)} is not supported (only unsigned bytes)`);
  const rank = bytes[3];
  const header = 4 + 4 * rank;
  if (rank === 0 || bytes.length < header) throw new DataError('DATA_FORMAT', `${what}: truncated idx header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const held = values ?? bytes.length - header;
  if (held !== count) {
    throw new DataError('DATA_FORMAT', `${what}: header says ${count} values, the file holds ${held}`);
  }
  return { dims, data: bytes.subarray(header) };
}

/**
 * The dimensions of a plain idx file and where its values start, read without its values (a
 * reader that wants some rows reads those at their offsets); null for a gzipped file.
 */
export function readIdxHeader(path: string): { dims: number[]; offset: number } | null {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(4 + 4 * 255);
    const got = readSync(fd, head, 0, head.length, 0);
    if (got >= 2 && head[0] === 0x1f && head[1] === 0x8b) return null;
    const size = fstatSync(fd).size;
    // The header with the file's length: parseIdx makes the checks it makes of a whole file.
    const rank = got >= 4 ? head[3] : 0;
    const offset = 4 + 4 * rank;
    const { dims } = parseIdx(head.subarray(0, Math.min(got, offset)), path, size - offset);
    return { dims: [...dims], offset };
  } finally {
    closeSync(fd);
  }
}

/** Reads an idx file, gunzipping it first when it starts with gzip's magic bytes. */
export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array = readFileSync(path);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new DataError('DATA_FORMAT', `${path}: corrupt gzip data (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  return parseIdx(bytes, path);
}
