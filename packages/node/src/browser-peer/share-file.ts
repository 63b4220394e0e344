import type { Dataset } from '@fednode/core';
import { NetError } from '../net/errors.js';

/**
 * A page's training rows as one file (`fednode web` serves one; a person may pick one):
 * "FNSH", a version byte (1), three zero bytes, the row count and the features per row
 * (uint32 little-endian), the rows' floats (float32 little-endian, already normalised as the
 * run's dataset is), then one label byte per row.
 */

const MAGIC = [0x46, 0x4e, 0x53, 0x48];
const HEADER = 16;

export function encodeShareFile(rows: Dataset): Uint8Array {
  const out = new Uint8Array(HEADER + rows.x.byteLength + rows.count);
  out.set(MAGIC, 0);
  out[4] = 1;
  const view = new DataView(out.buffer);
  view.setUint32(8, rows.count, true);
  view.setUint32(12, rows.features, true);
  for (let i = 0; i < rows.x.length; i++) view.setFloat32(HEADER + 4 * i, rows.x[i], true);
  out.set(rows.y, HEADER + rows.x.byteLength);
  return out;
}

export function decodeShareFile(bytes: Uint8Array, name = 'share file'): Dataset {
  const bad = (why: string): NetError => new NetError('NET_CONFIG', `${name} is not a fednode share file: ${why}`);
  if (bytes.byteLength < HEADER || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('it does not start with FNSH');
  if (bytes[4] !== 1) throw bad(`version ${bytes[4]}, expected 1`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(8, true);
  const features = view.getUint32(12, true);
  if (count < 1 || features < 1 || bytes.byteLength !== HEADER + count * features * 4 + count) throw bad(`${bytes.byteLength} bytes for ${count} rows of ${features} features`);
  const x = new Float32Array(count * features);
  for (let i = 0; i < x.length; i++) x[i] = view.getFloat32(HEADER + 4 * i, true);
  const y = bytes.slice(HEADER + 4 * x.length);
  if (y.some((v) => v > 9)) throw bad('a label is not a digit 0-9');
  return { name, count, features, classes: 10, x, y };
}
