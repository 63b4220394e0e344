/**
 * Payloads arrive as views at any byte offset; typed arrays need aligned offsets. These
 * helpers view when aligned and copy when not.
 */
export function viewAs<T extends Float32Array | Uint16Array | Uint32Array>(
  ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; new (length: number): T; BYTES_PER_ELEMENT: number },
  bytes: Uint8Array,
  byteOffset: number,
  length: number,
): T {
  const at = bytes.byteOffset + byteOffset;
  if (at % ctor.BYTES_PER_ELEMENT === 0) return new ctor(bytes.buffer, at, length);
  const copy = new ctor(length);
  new Uint8Array(copy.buffer).set(bytes.subarray(byteOffset, byteOffset + length * ctor.BYTES_PER_ELEMENT));
  return copy;
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
