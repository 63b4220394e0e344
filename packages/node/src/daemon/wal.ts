/**
 * The aggregator's write-ahead log: every accepted update is appended (its wire frames, the
 * peer id the noise handshake authenticated, and the round it was taken for) and fsynced
 * before the sender is acknowledged, so a crash never loses an acknowledged update.
 *
 * Record layout (all integers big-endian):
 *
 *   u32 bodyLength | u32 crc32(body) | body
 *   body = u8 1 (format) | u32 epoch | u16 peerLength | peer (UTF-8) | u32 frameCount | (u32 frameLength | frame)*
 *
 * `epoch` is the strategy's round (FedAvg) or version (FedBuff) when the update was taken:
 * replay skips records of epochs a checkpoint already covers. A record cut short by a crash
 * (or failing its CRC) ends the log: it and anything after it are dropped and cut off, so the
 * next append starts on a clean boundary.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { DaemonError } from '../runtime/errors.js';

const FORMAT = 1;
const HEAD_BYTES = 8;
/** A record larger than this is taken as corruption, not allocated. */
const MAX_RECORD_BYTES = 2 ** 31 - 1;

export interface WalRecord {
  readonly epoch: number;
  readonly peer: string;
  readonly frames: readonly Uint8Array[];
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE), as zlib computes it. */
export function crc32(parts: readonly Uint8Array[]): number {
  let c = 0xffffffff;
  for (const b of parts) for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The bytes of one record: head, then the body pieces (frames are not copied). */
export function encodeWalRecord(r: WalRecord): Uint8Array[] {
  const peer = Buffer.from(r.peer, 'utf8');
  if (peer.byteLength > 0xffff) throw new DaemonError('WAL_IO', 'peer id too long for the log');
  const fixed = Buffer.alloc(1 + 4 + 2 + peer.byteLength + 4);
  let at = fixed.writeUInt8(FORMAT, 0);
  at = fixed.writeUInt32BE(r.epoch, at);
  at = fixed.writeUInt16BE(peer.byteLength, at);
  at += peer.copy(fixed, at);
  fixed.writeUInt32BE(r.frames.length, at);
  const body: Uint8Array[] = [fixed];
  for (const f of r.frames) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(f.byteLength, 0);
    body.push(len, f);
  }
  const bodyBytes = body.reduce((n, b) => n + b.byteLength, 0);
  if (bodyBytes > MAX_RECORD_BYTES) throw new DaemonError('WAL_IO', `an update of ${bodyBytes} bytes is too large for the log`);
  const head = Buffer.alloc(HEAD_BYTES);
  head.writeUInt32BE(bodyBytes, 0);
  head.writeUInt32BE(crc32(body), 4);
  return [head, ...body];
}

function decodeBody(body: Buffer): WalRecord | null {
  try {
    if (body.readUInt8(0) !== FORMAT) return null;
    const epoch = body.readUInt32BE(1);
    const peerLen = body.readUInt16BE(5);
    let at = 7;
    const peer = body.toString('utf8', at, at + peerLen);
    at += peerLen;
    const n = body.readUInt32BE(at);
    at += 4;
    const frames: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const len = body.readUInt32BE(at);
      at += 4;
      if (at + len > body.byteLength) return null;
      frames.push(new Uint8Array(body.buffer, body.byteOffset + at, len));
      at += len;
    }
    return at === body.byteLength ? { epoch, peer, frames } : null;
  } catch {
    return null;
  }
}

export interface WalReadResult {
  readonly records: WalRecord[];
  /** Bytes of a torn or corrupt tail that were dropped (0 for a clean log). */
  readonly droppedBytes: number;
}

/** An append-only log file, opened for appending; `read` first to recover what it holds. */
export class WriteAheadLog {
  readonly path: string;
  private fd: number;
  private size: number;

  private constructor(path: string, fd: number, size: number) {
    this.path = path;
    this.fd = fd;
    this.size = size;
  }

  /**
   * Opens (creating) the log, reads every intact record, and cuts off a torn tail so appends
   * continue from the last good record.
   */
  static open(path: string): { wal: WriteAheadLog; recovered: WalReadResult } {
    let fd: number;
    try {
      fd = openSync(path, 'a+', 0o600);
    } catch (e) {
      throw new DaemonError('WAL_IO', `cannot open the write-ahead log ${path}: ${(e as Error).message}`, { cause: e });
    }
    const total = fstatSync(fd).size;
    const all = Buffer.allocUnsafe(total);
    let got = 0;
    while (got < total) {
      const n = readSync(fd, all, got, total - got, got);
      if (n === 0) break;
      got += n;
    }
    const records: WalRecord[] = [];
    let at = 0;
    while (at + HEAD_BYTES <= got) {
      const len = all.readUInt32BE(at);
      const crc = all.readUInt32BE(at + 4);
      if (at + HEAD_BYTES + len > got) break;
      // Records own their bytes: the file buffer is not kept alive by the frames.
      const body = Buffer.from(all.subarray(at + HEAD_BYTES, at + HEAD_BYTES + len));
      if (crc32([body]) !== crc) break;
      const r = decodeBody(body);
      if (r === null) break;
      records.push(r);
      at += HEAD_BYTES + len;
    }
    if (at < total) {
      ftruncateSync(fd, at);
      fsyncSync(fd);
    }
    return { wal: new WriteAheadLog(path, fd, at), recovered: { records, droppedBytes: total - at } };
  }

  /** Bytes in the log. */
  get bytes(): number {
    return this.size;
  }

  /** Appends a record and fsyncs: when this returns, the record survives a crash. */
  append(r: WalRecord): void {
    const parts = encodeWalRecord(r);
    try {
      for (const p of parts) {
        let off = 0;
        while (off < p.byteLength) off += writeSync(this.fd, p, off, p.byteLength - off);
      }
      fsyncSync(this.fd);
    } catch (e) {
      // A partial record would end the log at replay anyway; cut it now so later appends count.
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // the disk is failing; replay stops at the torn record
      }
      throw new DaemonError('WAL_IO', `cannot append to the write-ahead log ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    this.size += parts.reduce((n, p) => n + p.byteLength, 0);
  }

  /** Empties the log (after a checkpoint covers everything in it). */
  truncate(): void {
    try {
      ftruncateSync(this.fd, 0);
      fsyncSync(this.fd);
    } catch (e) {
      throw new DaemonError('WAL_IO', `cannot truncate the write-ahead log ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    this.size = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
