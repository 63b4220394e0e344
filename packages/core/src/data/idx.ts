import { readFileSync } from 'node:fs';
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

export function parseIdx(bytes: Uint8Array, what = 'idx data'): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new DataError('DATA_FORMAT', `${what}: not an idx file (bad magic)`);
  if (bytes[2] !== UBYTE) throw new DataError('DATA_FORMAT', `${what}: idx type 0x${bytes[2].toString(16)} is not supported (only unsigned bytes)`);
  const rank = bytes[3];
  const header = 4 + 4 * rank;
  if (rank === 0 || bytes.length < header) throw new DataError('DATA_FORMAT', `${what}: truncated idx header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + count) {
    throw new DataError('DATA_FORMAT', `${what}: header says ${count} values, the file holds ${bytes.length - header}`);
  }
  return { dims, data: bytes.subarray(header) };
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
