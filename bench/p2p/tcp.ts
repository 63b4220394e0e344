/**
 * The raw TCP (node:net) baselines of the p2p benchmark, each a sender and a receiver in
 * different processes. Every push is answered with the receiver's CPU milliseconds since
 * its previous answer.
 *
 *   frames: our update protocol without libp2p: the same header and chunk frames, built and
 *           sent the same way (payload views, 4 MiB writes), split by the same FrameSplitter,
 *           the header decoded and the payload assembled by the same code, answered with an
 *           UpdateAck frame. This is the comparable baseline: libp2p / frames isolates what
 *           noise, yamux and libp2p's stream plumbing cost.
 *   bytes:  a 4-byte length and the payload's bytes, assembled by one concat, a 4-byte
 *           answer: the most a TCP connection between two processes moves, with no
 *           protocol work at all.
 */
import { createServer, connect, type Socket } from 'node:net';
import {
  DEFAULT_FRAME_BYTES,
  DEFAULT_WIRE_LIMITS,
  PayloadAssembler,
  decodeUpdateAck,
  decodeUpdateHeader,
  encodeUpdateAck,
  encodeUpdateHeader,
  type Update,
} from '@fednode/core';
import { FrameSplitter, encodeLength, joinFrame } from '../../packages/node/src/net/frames.js';
import { assembleChunk, payloadChunkFrames } from '../../packages/node/src/net/chunk-frames.js';

export type TcpMode = 'frames' | 'bytes';

/** As many bytes per write as the libp2p side's `writeFrames` batches. */
const BATCH_BYTES = 4 * 1024 * 1024;

/** Serves one of the baselines on `host`; resolves with the port. */
export function serveTcp(mode: TcpMode, cpuMs: () => number, onUpdate: (u: Update) => void = () => undefined, host = '127.0.0.1'): Promise<number> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const onData = mode === 'frames' ? framesReceiver(socket, cpuMs, onUpdate) : bytesReceiver(socket, cpuMs);
    socket.on('data', (b: Buffer) => {
      try {
        onData(b);
      } catch (e) {
        console.error(`tcp ${mode} receiver: ${(e as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, host, () => {
      const a = server.address();
      if (a === null || typeof a === 'string') throw new Error('no TCP address');
      resolve(a.port);
    });
  });
}

/** Header, then chunks into the assembler, then an UpdateAck: what `/fednode/update/1`'s server does. */
function framesReceiver(socket: Socket, cpuMs: () => number, onUpdate: (u: Update) => void): (b: Buffer) => void {
  const limits = DEFAULT_WIRE_LIMITS;
  let assembler: PayloadAssembler | null = null;
  let header: ReturnType<typeof decodeUpdateHeader> | null = null;
  const splitter = new FrameSplitter(limits.maxMessageBytes, (pieces, bytes) => {
    if (header === null || assembler === null) {
      header = decodeUpdateHeader(joinFrame({ pieces, bytes }), limits);
      assembler = new PayloadAssembler(header.tensors);
    } else {
      assembleChunk(assembler, { pieces, bytes }, limits);
    }
    if (!assembler.complete) return;
    const payloads = assembler.payloads();
    const h = header;
    // The update as the protocol's server hands it to `onUpdate`.
    const update: Update = { ...h, tensors: h.tensors.map((t, i) => ({ name: t.name, shape: t.shape, params: t.params, payload: payloads[i] })) };
    header = null;
    assembler = null;
    onUpdate(update);
    const ack = encodeUpdateAck({ accepted: true, code: '', reason: '', version: cpuMs() });
    socket.write(Buffer.concat([encodeLength(ack.byteLength), ack]));
  });
  return (b) => {
    splitter.push(b);
    if (splitter.failure !== null) throw splitter.failure;
  };
}

function bytesReceiver(socket: Socket, cpuMs: () => number): (b: Buffer) => void {
  let pieces: Buffer[] = [];
  let have = 0;
  let want = -1;
  return (b) => {
    pieces.push(b);
    have += b.byteLength;
    while (true) {
      if (want < 0 && have >= 4) {
        const all = Buffer.concat(pieces);
        want = all.readUInt32BE(0);
        pieces = [all.subarray(4)];
        have -= 4;
      }
      if (want < 0 || have < want) return;
      // One contiguous message, as an application needs it.
      const all = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
      pieces = have > want ? [all.subarray(want)] : [];
      have -= want;
      want = -1;
      const answer = Buffer.alloc(4);
      answer.writeUInt32BE(Math.min(cpuMs(), 0xffffffff) >>> 0, 0);
      socket.write(answer);
    }
  };
}

export interface TcpSender {
  /** Pushes `update` and resolves with the receiver's answer (its CPU ms). */
  push(update: Update): Promise<number>;
  close(): void;
}

export function tcpSender(port: number, mode: TcpMode, host = '127.0.0.1'): Promise<TcpSender> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host, noDelay: true }, () => {
      let waiting: ((cpuMs: number) => void) | null = null;
      const answered = (cpuMs: number): void => {
        const w = waiting;
        waiting = null;
        w?.(cpuMs);
      };
      if (mode === 'frames') {
        const splitter = new FrameSplitter(64 * 1024, (pieces, bytes) => answered(decodeUpdateAck(joinFrame({ pieces, bytes })).version));
        socket.on('data', (b: Buffer) => splitter.push(b));
      } else {
        let answer = Buffer.alloc(0);
        socket.on('data', (b: Buffer) => {
          answer = Buffer.concat([answer, b]);
          if (answer.byteLength < 4) return;
          const cpuMs = answer.readUInt32BE(0);
          answer = answer.subarray(4);
          answered(cpuMs);
        });
      }
      const push = async (update: Update): Promise<number> => {
        const answer = new Promise<number>((r) => (waiting = r));
        if (mode === 'frames') await writeBatched(socket, framesOf(update));
        else await writeBatched(socket, bytesOf(update.tensors[0].payload));
        return answer;
      };
      resolve({ push, close: () => socket.destroy() });
    });
    socket.once('error', reject);
  });
}

function* framesOf(update: Update): Generator<Uint8Array> {
  for (const frame of [[encodeUpdateHeader(update)], ...payloadChunkFrames(update.tensors, DEFAULT_FRAME_BYTES)]) {
    yield encodeLength(frame.reduce((n, p) => n + p.byteLength, 0));
    yield* frame;
  }
}

function* bytesOf(payload: Uint8Array): Generator<Uint8Array> {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(payload.byteLength, 0);
  yield len;
  for (let off = 0; off < payload.byteLength; off += DEFAULT_FRAME_BYTES) yield payload.subarray(off, off + DEFAULT_FRAME_BYTES);
}

/** Writes `pieces` corked into batches (one writev each), waiting for 'drain' when told to. */
async function writeBatched(socket: Socket, pieces: Iterable<Uint8Array>): Promise<void> {
  let batched = 0;
  socket.cork();
  for (const p of pieces) {
    socket.write(p);
    batched += p.byteLength;
    if (batched < BATCH_BYTES) continue;
    socket.uncork();
    batched = 0;
    if (socket.writableNeedDrain) await new Promise<void>((r) => socket.once('drain', () => r()));
    socket.cork();
  }
  socket.uncork();
}
