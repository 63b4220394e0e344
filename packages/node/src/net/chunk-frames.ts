/**
 * Payload chunk frames (TensorChunk messages) without copying payload bytes in between.
 * core's `encodeTensorChunk` copies each chunk's data into a new message, and decoding needs
 * the frame in one piece (another copy, as frames arrive in 64 KiB noise messages), before
 * the assembler copies the data once more into the payload. Here the sender frames a view of
 * the payload behind the few bytes of the message's other fields, and the receiver hands the
 * data pieces as they arrived to the assembler, which copies each byte once.
 *
 * The bytes on the wire are exactly `encodeTensorChunk`'s (protobufjs writes the fields in
 * order and leaves out zeros). A received frame in any other layout (another encoder's field
 * order, unknown fields) goes through core's decoder, so its checks and errors still apply.
 */
import { PROTOCOL_VERSION, decodeTensorChunk, type EncodedTensor, type PayloadAssembler, type WireLimits } from '@fednode/core';
import { joinFrame, type FramePieces } from './frames.js';

/** Wire tags (field number << 3 | wire type) of TensorChunk's fields. */
const TAG_VERSION = (1 << 3) | 0;
const TAG_TENSOR = (2 << 3) | 0;
const TAG_OFFSET = (3 << 3) | 0;
const TAG_DATA = (4 << 3) | 2;
/** Longest head: four tags and four 32-bit varints. */
const MAX_HEAD_BYTES = 4 * (1 + 5);

/** The encoding of a TensorChunk up to (not including) its `dataBytes` of data. */
export function chunkHead(tensor: number, offset: number, dataBytes: number): Uint8Array {
  const out = new Uint8Array(MAX_HEAD_BYTES);
  let at = 0;
  const field = (tag: number, v: number): void => {
    if (v === 0) return; // proto3 leaves out zeros, as protobufjs does
    out[at++] = tag;
    while (v >= 0x80) {
      out[at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    out[at++] = v;
  };
  field(TAG_VERSION, PROTOCOL_VERSION);
  field(TAG_TENSOR, tensor);
  field(TAG_OFFSET, offset);
  field(TAG_DATA, dataBytes);
  return out.subarray(0, at);
}

/** Chunk frames carrying `tensors`' payloads in order, as [head, view of the payload]. */
export function* payloadChunkFrames(tensors: readonly EncodedTensor[], frameBytes: number): Generator<Uint8Array[]> {
  for (let i = 0; i < tensors.length; i++) {
    const p = tensors[i].payload;
    for (let off = 0; off < p.byteLength; off += frameBytes) {
      const data = p.subarray(off, Math.min(p.byteLength, off + frameBytes));
      yield [chunkHead(i, off, data.byteLength), data];
    }
  }
}

/**
 * Adds one received chunk frame to `assembler`: its data pieces go in as they arrived (the
 * assembler copies them into the payload once it is complete). Throws what core's decoder or
 * the assembler throws.
 */
export function assembleChunk(assembler: PayloadAssembler, frame: FramePieces, limits: WireLimits): void {
  const head = frame.bytes <= limits.maxMessageBytes ? readHead(frame) : null;
  if (head === null) {
    assembler.push(decodeTensorChunk(joinFrame(frame), limits));
    return;
  }
  let skip = head.dataStart;
  let offset = head.offset;
  for (const p of frame.pieces) {
    if (skip >= p.byteLength) {
      skip -= p.byteLength;
      continue;
    }
    const data = skip === 0 ? p : p.subarray(skip);
    skip = 0;
    assembler.push({ tensor: head.tensor, offset, data });
    offset += data.byteLength;
  }
}

interface Head {
  readonly tensor: number;
  readonly offset: number;
  readonly dataStart: number;
}

/**
 * The fields before the data, when the frame is laid out as this module and protobufjs write
 * it: version, tensor, offset (each optional, in order), then non-empty data to the frame's
 * end. Null for anything else, which core's decoder then judges.
 */
function readHead(frame: FramePieces): Head | null {
  const b = firstBytes(frame, MAX_HEAD_BYTES);
  const values = [0, 0, 0, 0];
  let at = 0;
  let lastField = 0;
  while (at < b.byteLength) {
    const tag = b[at++];
    const fieldNo = tag >> 3;
    if (fieldNo <= lastField || fieldNo > 4 || (tag & 7) !== (fieldNo === 4 ? 2 : 0)) return null;
    lastField = fieldNo;
    let v = 0;
    for (let shift = 0; ; shift++) {
      if (at >= b.byteLength || shift === 5) return null;
      const byte = b[at++];
      v += (byte & 0x7f) * 2 ** (7 * shift);
      if ((byte & 0x80) === 0) break;
    }
    if (v > 0xffffffff) return null;
    values[fieldNo - 1] = v;
    if (fieldNo === 4) {
      const ok = values[0] === PROTOCOL_VERSION && v > 0 && at + v === frame.bytes;
      return ok ? { tensor: values[1], offset: values[2], dataStart: at } : null;
    }
  }
  return null;
}

/** The frame's first `n` bytes (fewer if it is shorter), copied only when split across pieces. */
function firstBytes(frame: FramePieces, n: number): Uint8Array {
  const first = frame.pieces[0];
  const want = Math.min(n, frame.bytes);
  if (first !== undefined && first.byteLength >= want) return first.subarray(0, want);
  const out = new Uint8Array(want);
  let at = 0;
  for (const p of frame.pieces) {
    if (at >= want) break;
    const part = p.subarray(0, want - at);
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
