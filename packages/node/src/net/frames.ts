/**
 * Length-prefixed frames on libp2p v3 streams: an unsigned varint length, then that many
 * bytes (the framing libp2p's own `lpStream` uses, so either side can be either).
 *
 * We do not use `lpStream`: its byte buffer never pauses the stream (a fast sender fills it
 * until it overflows and aborts), and it waits for a whole frame before looking at the next
 * length. This reader attaches at once (yamux keeps only a few MiB unread before it aborts a
 * stream), splits frames as bytes arrive, refuses a declared length over the limit before
 * buffering a byte of it, and pauses the stream (yamux then stops granting window to the
 * sender) while too much is buffered unread.
 */
import type { Stream } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';
import { NetError } from './errors.js';

/** The longest varint a 32-bit length needs. */
const MAX_VARINT_BYTES = 5;

export interface FrameReaderOptions {
  /** Largest frame accepted; a larger declared length fails the reader (NET_LIMIT) before its bytes are kept. */
  readonly maxFrameBytes: number;
  /** Longest wait for one frame, in milliseconds. */
  readonly timeoutMs: number;
  /** Unread bytes at which the stream is paused (default: 2 frames, at least 8 MiB). */
  readonly highWaterBytes?: number;
}

/** Appends the varint encoding of `n` to a fresh array. */
export function encodeLength(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`frame length ${n} out of range`);
  const out = new Uint8Array(MAX_VARINT_BYTES);
  let i = 0;
  while (n >= 0x80) {
    out[i++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[i++] = n;
  return out.subarray(0, i);
}

/**
 * Splits a byte stream into frames as bytes arrive, keeping each frame as the pieces it
 * arrived in (views, no copy): a consumer that copies the bytes anyway (the payload
 * assembler) then copies them once. A declared length over the limit fails the splitter
 * before a byte of that frame is kept. Transport-free, so a plain TCP socket can use it too.
 */
export class FrameSplitter {
  private readonly maxFrameBytes: number;
  private readonly onFrame: (pieces: Uint8Array[], bytes: number) => void;
  /** Length prefix being read: value so far, bytes read (0: between frames). */
  private prefix = 0;
  private prefixBytes = 0;
  /** Length of the frame being received; -1 while its length prefix is incomplete. */
  private want = -1;
  private pieces: Uint8Array[] = [];
  private pieceBytes = 0;
  private failed: NetError | null = null;

  constructor(maxFrameBytes: number, onFrame: (pieces: Uint8Array[], bytes: number) => void) {
    this.maxFrameBytes = maxFrameBytes;
    this.onFrame = onFrame;
  }

  get failure(): NetError | null {
    return this.failed;
  }

  /** Bytes of an incomplete frame (or length prefix) held; 0 between frames. */
  get partialBytes(): number {
    return this.want >= 0 ? this.pieceBytes : this.prefixBytes;
  }

  /** Why an end here would cut a frame, or null when it falls between frames. */
  cutShort(): string | null {
    if (this.want < 0 && this.prefixBytes === 0) return null;
    return `${this.want < 0 ? this.prefixBytes : this.pieceBytes} of ${this.want < 0 ? 'a length prefix' : `${this.want} bytes`}`;
  }

  /** Takes the next bytes; frames completed by them go to `onFrame` in order. */
  push(b: Uint8Array): void {
    let at = 0;
    while (at < b.byteLength && this.failed === null) {
      if (this.want < 0) {
        at = this.readPrefix(b, at);
        continue;
      }
      const need = this.want - this.pieceBytes;
      const end = Math.min(b.byteLength, at + need);
      this.pieces.push(at === 0 && end === b.byteLength ? b : b.subarray(at, end));
      this.pieceBytes += end - at;
      at = end;
      if (this.pieceBytes === this.want) this.finish();
    }
  }

  /** Stops keeping anything: a violation, or a reader that gave up. */
  fail(err: NetError): void {
    this.failed ??= err;
    this.pieces = [];
    this.pieceBytes = 0;
    this.want = -1;
  }

  private readPrefix(b: Uint8Array, at: number): number {
    while (at < b.byteLength) {
      const byte = b[at++];
      this.prefix += (byte & 0x7f) * 2 ** (7 * this.prefixBytes);
      this.prefixBytes++;
      if ((byte & 0x80) === 0) {
        const n = this.prefix;
        this.prefix = 0;
        this.prefixBytes = 0;
        if (n > 0xffffffff) this.fail(new NetError('NET_PROTOCOL', 'frame length prefix over 32 bits'));
        else if (n > this.maxFrameBytes) this.fail(new NetError('NET_LIMIT', `frame of ${n} bytes declared, the limit is ${this.maxFrameBytes}`));
        else {
          this.want = n;
          if (n === 0) this.finish();
        }
        return at;
      }
      if (this.prefixBytes >= MAX_VARINT_BYTES) {
        this.fail(new NetError('NET_PROTOCOL', 'frame length prefix is longer than 5 bytes'));
        return at;
      }
    }
    return at;
  }

  private finish(): void {
    const pieces = this.pieces;
    const bytes = this.want;
    this.pieces = [];
    this.pieceBytes = 0;
    this.want = -1;
    this.onFrame(pieces, bytes);
  }
}

/** A received frame: its bytes in the pieces they arrived in. */
export interface FramePieces {
  readonly pieces: readonly Uint8Array[];
  readonly bytes: number;
}

/**
 * Reads frames from a stream. Create it before any await in a stream handler, so no data
 * is left in the stream's own (bounded) buffer.
 */
export class FrameReader {
  private readonly stream: Stream;
  private readonly timeoutMs: number;
  private readonly highWater: number;
  private readonly splitter: FrameSplitter;
  /** Complete frames not yet taken by `next`. */
  private readonly frames: FramePieces[] = [];
  private framesHead = 0;
  /** Bytes of complete frames not yet taken. */
  private buffered = 0;
  private paused = false;
  private ended = false;
  private failure: NetError | null = null;
  private waiter: (() => void) | null = null;
  private readonly onMessage: (evt: { data: Uint8Array | Iterable<Uint8Array> }) => void;
  private readonly onEnd: () => void;
  private readonly onClose: (evt: { error?: Error }) => void;

  constructor(stream: Stream, options: FrameReaderOptions) {
    this.stream = stream;
    this.timeoutMs = options.timeoutMs;
    this.highWater = options.highWaterBytes ?? Math.max(8 << 20, 2 * options.maxFrameBytes);
    this.splitter = new FrameSplitter(options.maxFrameBytes, (pieces, bytes) => {
      this.frames.push({ pieces, bytes });
      this.buffered += bytes;
    });
    this.onMessage = (evt) => {
      if (this.failure !== null) return; // refusing: drop what still arrives
      if (evt.data instanceof Uint8Array) this.splitter.push(evt.data);
      else for (const b of evt.data) this.splitter.push(b); // a Uint8ArrayList: walk its pieces, no copy
      if (this.splitter.failure !== null) this.fail(this.splitter.failure);
      this.noteEnd();
      if (!this.paused && this.bufferedBytes > this.highWater) {
        // Pause in a microtask, not here: when this message comes from inside resume(),
        // resume() re-enables yamux's window updates after its listeners return, which would
        // silently undo a pause made now (and the stream then overflows its read buffer).
        this.paused = true;
        queueMicrotask(() => {
          if (this.paused && this.failure === null && this.stream.readStatus === 'readable') this.stream.pause();
        });
      }
      this.wakeUp();
    };
    this.onEnd = () => {
      this.ended = true;
      this.wakeUp();
    };
    this.onClose = (evt) => {
      this.ended = true;
      if (evt.error !== undefined && this.failure === null) {
        this.failure = new NetError('NET_CLOSED', `stream closed: ${evt.error.message}`, { cause: evt.error });
      }
      this.wakeUp();
    };
    stream.addEventListener('message', this.onMessage);
    // 'remoteCloseWrite' fires once; 'end' also covers a remote that closed before we attached
    // while its data still sat in the stream's buffer.
    stream.addEventListener('remoteCloseWrite', this.onEnd);
    stream.addEventListener('end', this.onEnd);
    stream.addEventListener('close', this.onClose);
    // The remote may have closed before we attached, with data still in the stream's buffer
    // (multistream-select hands back what it read past its handshake): then the end comes
    // once that data is dispatched to us, and no 'end' event follows.
    this.noteEnd();
  }

  /** Bytes received and not yet taken. */
  get bufferedBytes(): number {
    return this.buffered + this.splitter.partialBytes;
  }

  /**
   * The next frame, or null when the remote closed its side cleanly between frames. Frames
   * that arrived before a reset are still returned before the reset is reported.
   */
  async next(timeoutMs = this.timeoutMs): Promise<Uint8Array | null> {
    const f = await this.nextPieces(timeoutMs);
    return f === null ? null : joinFrame(f);
  }

  /**
   * As `next`, with the frame's bytes left in the pieces they arrived in: views of received
   * buffers, for a consumer that copies them anyway.
   */
  async nextPieces(timeoutMs = this.timeoutMs): Promise<FramePieces | null> {
    if (this.framesHead >= this.frames.length && !(await this.waitForFrame(timeoutMs))) return null;
    const f = this.frames[this.framesHead];
    this.frames[this.framesHead++] = NO_FRAME;
    if (this.framesHead > 64 && this.framesHead * 2 > this.frames.length) {
      this.frames.splice(0, this.framesHead);
      this.framesHead = 0;
    }
    this.buffered -= f.bytes;
    if (this.paused && this.bufferedBytes < this.highWater / 2) {
      this.paused = false;
      if (this.stream.readStatus === 'paused') this.stream.resume();
    }
    return f;
  }

  /** Stops reading: listeners are removed and whatever arrives later is left to the stream. */
  dispose(): void {
    this.stream.removeEventListener('message', this.onMessage);
    this.stream.removeEventListener('remoteCloseWrite', this.onEnd);
    this.stream.removeEventListener('end', this.onEnd);
    this.stream.removeEventListener('close', this.onClose);
    this.wakeUp();
  }

  /** True once a frame is ready, false on a clean end. */
  private async waitForFrame(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      while (this.framesHead >= this.frames.length) {
        if (this.failure !== null) throw this.failure;
        if (this.ended) {
          const cut = this.splitter.cutShort();
          if (cut !== null) throw new NetError('NET_PROTOCOL', `stream ended inside a frame (${cut})`);
          return false;
        }
        if (timedOut) throw new NetError('NET_TIMEOUT', `no frame within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
          timer ??= setTimeout(() => {
            timedOut = true;
            this.wakeUp();
          }, timeoutMs);
        });
      }
      return true;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Marks the end once the remote closed its side and the stream holds nothing more for us. */
  private noteEnd(): void {
    if ((this.stream.remoteWriteStatus === 'closed' || this.stream.readableEnded) && this.stream.readBufferLength === 0) this.ended = true;
  }

  private wakeUp(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** A violation: keep nothing more, so the declared bytes are never buffered. */
  private fail(err: NetError): void {
    this.failure = err;
    this.splitter.fail(err);
    this.frames.length = 0;
    this.framesHead = 0;
    this.buffered = 0;
    if (this.paused && this.stream.readStatus === 'paused') {
      // Keep the stream flowing so its own buffer cannot overflow; we drop what arrives.
      this.paused = false;
      this.stream.resume();
    }
  }
}

const NO_FRAME: FramePieces = { pieces: [], bytes: 0 };

/** Frames up to this size are copied behind their length prefix into one array. */
const SMALL_FRAME_BYTES = 64 * 1024;

/** A received frame's bytes in one array (a copy only when it arrived in several pieces). */
export function joinFrame(frame: FramePieces): Uint8Array {
  return concat(frame.pieces, frame.bytes);
}

function concat(pieces: readonly Uint8Array[], total: number): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export interface WriteOptions {
  /** Longest wait for the remote to take more data, in milliseconds. */
  readonly timeoutMs: number;
  /** Stops waiting for the remote (NET_CLOSED), e.g. once it has answered early. */
  readonly signal?: AbortSignal;
}

/**
 * Writes one frame (a frame's bytes, or its pieces in order), waiting while the stream needs
 * to drain. We wait on the 'drain' event ourselves: `stream.onDrain()` in @libp2p/utils 7.4
 * keeps its first resolved promise, so after the first drain it no longer waits and the
 * write buffer grows without bound.
 */
export function writeFrame(stream: Stream, frame: Uint8Array | readonly Uint8Array[], options: WriteOptions): Promise<void> {
  return writeFrames(stream, [frame], options);
}

/** Bytes of frames `writeFrames` gathers into one send (by default). */
const BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Writes frames in order, several to a send: each send that finds the yamux window open
 * goes out as its own yamux frame, answered by its own window update, and each costs noise
 * messages and syscalls, so batching 1 MiB frames into 4 MiB sends saves a good part of the
 * receiver's time. Small frames are copied behind their length prefixes; large ones go as
 * views. Stops between sends once `options.signal` is aborted.
 */
export async function writeFrames(stream: Stream, frames: Iterable<Uint8Array | readonly Uint8Array[]>, options: WriteOptions & { readonly batchBytes?: number }): Promise<void> {
  const batchBytes = options.batchBytes ?? BATCH_BYTES;
  let batch: Uint8Array[] = [];
  let batchLength = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    if (stream.writeStatus !== 'writable') throw new NetError('NET_CLOSED', `cannot write: stream is ${stream.status}`);
    const data = batch.length === 1 ? batch[0] : new Uint8ArrayList(...batch);
    batch = [];
    batchLength = 0;
    const more = stream.send(data);
    if (!more || stream.writableNeedsDrain) await drained(stream, options.timeoutMs, options.signal);
  };
  for (const frame of frames) {
    if (options.signal?.aborted === true) return;
    const pieces = frame instanceof Uint8Array ? [frame] : frame;
    let bytes = 0;
    for (const p of pieces) bytes += p.byteLength;
    const prefix = encodeLength(bytes);
    if (bytes <= SMALL_FRAME_BYTES) batch.push(concat([prefix, ...pieces], prefix.byteLength + bytes));
    else batch.push(prefix, ...pieces);
    batchLength += prefix.byteLength + bytes;
    if (batchLength >= batchBytes) await flush();
  }
  await flush();
}

/** Resolves once the stream can take more data; NET_TIMEOUT or NET_CLOSED otherwise. */
export function drained(stream: Stream, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  if (!stream.writableNeedsDrain) return Promise.resolve();
  if (signal?.aborted === true) return Promise.reject(new NetError('NET_CLOSED', 'writing was stopped'));
  return new Promise<void>((resolve, reject) => {
    const done = (err?: NetError): void => {
      clearTimeout(timer);
      stream.removeEventListener('drain', onDrain);
      stream.removeEventListener('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = (): void => done();
    const onAbort = (): void => done(new NetError('NET_CLOSED', 'writing was stopped'));
    const onClose = (evt: { error?: Error }): void =>
      done(new NetError('NET_CLOSED', `stream closed while writing${evt.error ? `: ${evt.error.message}` : ''}`, { cause: evt.error }));
    const timer = setTimeout(() => done(new NetError('NET_TIMEOUT', `the remote took no data for ${timeoutMs} ms`)), timeoutMs);
    stream.addEventListener('drain', onDrain);
    stream.addEventListener('close', onClose);
    signal?.addEventListener('abort', onAbort);
  });
}

/** Reads the next frame, treating a clean end as a protocol error naming `what`. */
export async function expectFrame(reader: FrameReader, what: string, timeoutMs?: number): Promise<Uint8Array> {
  const f = await reader.next(timeoutMs);
  if (f === null) throw new NetError('NET_PROTOCOL', `stream ended before the ${what}`);
  return f;
}

/** As `expectFrame`, with the frame left in the pieces it arrived in. */
export async function expectFramePieces(reader: FrameReader, what: string, timeoutMs?: number): Promise<FramePieces> {
  const f = await reader.nextPieces(timeoutMs);
  if (f === null) throw new NetError('NET_PROTOCOL', `stream ended before the ${what}`);
  return f;
}

/** Aborts a stream without throwing (it may already be closed). */
export function abortQuietly(stream: Stream, reason: Error): void {
  try {
    stream.abort(reason);
  } catch {
    // already closed or reset: nothing left to abort
  }
}
