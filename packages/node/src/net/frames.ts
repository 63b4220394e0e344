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
 * Reads frames from a stream. Create it before any await in a stream handler, so no data
 * is left in the stream's own (bounded) buffer.
 */
export class FrameReader {
  private readonly stream: Stream;
  private readonly maxFrameBytes: number;
  private readonly timeoutMs: number;
  private readonly highWater: number;
  /** Complete frames not yet taken by `next`. */
  private readonly frames: Uint8Array[] = [];
  private framesHead = 0;
  /** Bytes of the frame being received (or of its length prefix, while `want` < 0). */
  private pieces: Uint8Array[] = [];
  private pieceBytes = 0;
  /** Length of the frame being received; -1 while its length prefix is incomplete. */
  private want = -1;
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
    this.maxFrameBytes = options.maxFrameBytes;
    this.timeoutMs = options.timeoutMs;
    this.highWater = options.highWaterBytes ?? Math.max(8 << 20, 2 * options.maxFrameBytes);
    this.onMessage = (evt) => {
      if (this.failure !== null) return; // refusing: drop what still arrives
      if (evt.data instanceof Uint8Array) this.take(evt.data);
      else for (const b of evt.data) this.take(b); // a Uint8ArrayList: walk its pieces, no copy
      this.noteEnd();
      if (!this.paused && this.buffered > this.highWater) {
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
    return this.buffered;
  }

  /**
   * The next frame, or null when the remote closed its side cleanly between frames. Frames
   * that arrived before a reset are still returned before the reset is reported.
   */
  async next(timeoutMs = this.timeoutMs): Promise<Uint8Array | null> {
    if (this.framesHead >= this.frames.length && !(await this.waitForFrame(timeoutMs))) return null;
    const f = this.frames[this.framesHead];
    this.frames[this.framesHead++] = EMPTY;
    if (this.framesHead > 64 && this.framesHead * 2 > this.frames.length) {
      this.frames.splice(0, this.framesHead);
      this.framesHead = 0;
    }
    this.buffered -= f.byteLength;
    if (this.paused && this.buffered < this.highWater / 2) {
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
          if (this.want >= 0 || this.pieceBytes > 0) {
            throw new NetError('NET_PROTOCOL', `stream ended inside a frame (${this.pieceBytes} of ${this.want < 0 ? 'a length prefix' : `${this.want} bytes`})`);
          }
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

  /** Splits incoming bytes into frames as they arrive. */
  private take(b: Uint8Array): void {
    while (b.byteLength > 0 && this.failure === null) {
      if (this.want < 0) {
        // Length prefix: at most 5 bytes, usually within one piece.
        let i = 0;
        while (i < b.byteLength && this.want < 0) {
          const byte = b[i++];
          this.pieces.push(b.subarray(i - 1, i));
          this.pieceBytes++;
          if ((byte & 0x80) === 0) this.want = this.decodePrefix();
          else if (this.pieceBytes >= MAX_VARINT_BYTES) this.fail(new NetError('NET_PROTOCOL', 'frame length prefix is longer than 5 bytes'));
        }
        b = b.subarray(i);
        if (this.want < 0 || this.failure !== null) continue;
        if (this.want > this.maxFrameBytes) {
          this.fail(new NetError('NET_LIMIT', `frame of ${this.want} bytes declared, the limit is ${this.maxFrameBytes}`));
          return;
        }
        if (this.want === 0) this.finishFrame(new Uint8Array(0));
        continue;
      }
      const need = this.want - this.pieceBytes;
      if (this.pieceBytes === 0 && b.byteLength >= need) {
        // The whole frame inside one piece: no copy.
        this.buffered += need;
        this.finishFrame(b.subarray(0, need));
        b = b.subarray(need);
        continue;
      }
      const part = b.byteLength > need ? b.subarray(0, need) : b;
      this.pieces.push(part);
      this.pieceBytes += part.byteLength;
      this.buffered += part.byteLength;
      b = b.subarray(part.byteLength);
      if (this.pieceBytes === this.want) this.finishFrame(concat(this.pieces, this.want));
    }
  }

  private decodePrefix(): number {
    let n = 0;
    let scale = 1;
    for (const p of this.pieces) {
      n += (p[0] & 0x7f) * scale;
      scale *= 128;
    }
    this.pieces = [];
    this.pieceBytes = 0;
    if (n > 0xffffffff) this.fail(new NetError('NET_PROTOCOL', 'frame length prefix over 32 bits'));
    return n;
  }

  private finishFrame(frame: Uint8Array): void {
    this.frames.push(frame);
    this.pieces = [];
    this.pieceBytes = 0;
    this.want = -1;
  }

  /** A violation: keep nothing more, so the declared bytes are never buffered. */
  private fail(err: NetError): void {
    this.failure = err;
    this.pieces = [];
    this.pieceBytes = 0;
    this.want = -1;
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

const EMPTY = new Uint8Array(0);

/** Frames up to this size are sent together with their length prefix (one copy). */
const SMALL_FRAME_BYTES = 64 * 1024;

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
 * Writes one frame, waiting while the stream needs to drain. We wait on the 'drain' event
 * ourselves: `stream.onDrain()` in @libp2p/utils 7.4 keeps its first resolved promise, so
 * after the first drain it no longer waits and the write buffer grows without bound.
 */
export async function writeFrame(stream: Stream, frame: Uint8Array, options: WriteOptions): Promise<void> {
  if (stream.writeStatus !== 'writable') throw new NetError('NET_CLOSED', `cannot write: stream is ${stream.status}`);
  const prefix = encodeLength(frame.byteLength);
  let more: boolean;
  if (frame.byteLength <= SMALL_FRAME_BYTES) {
    // One send, so one yamux frame and one noise message: each send becomes its own, and
    // a lone prefix would cost a whole encrypted message and a syscall.
    const joined = new Uint8Array(prefix.byteLength + frame.byteLength);
    joined.set(prefix, 0);
    joined.set(frame, prefix.byteLength);
    more = stream.send(joined);
  } else {
    // Large frames: copying them costs more than the prefix's own small message.
    stream.send(prefix);
    more = stream.send(frame);
  }
  if (!more || stream.writableNeedsDrain) await drained(stream, options.timeoutMs, options.signal);
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

/** Aborts a stream without throwing (it may already be closed). */
export function abortQuietly(stream: Stream, reason: Error): void {
  try {
    stream.abort(reason);
  } catch {
    // already closed or reset: nothing left to abort
  }
}
