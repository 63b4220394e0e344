/**
 * `p2p.update.push`: a 64 MiB update pushed over libp2p (noise + yamux, /fednode/update/1,
 * acknowledged by a fednode host in another process) against raw TCP (node:net) moving the
 * same bytes to another process and waiting for a one-byte answer. Both in MB/s, alternated
 * in the same run; ratio = libp2p / raw TCP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ParamSet, encodeUpdate, fullSlice, type Update } from '../../packages/core/src/index.js';
import { createHost, pushUpdate, type FedHost, type HostOptions } from '../../packages/node/src/net/index.js';
import { fillSignal, median, round, type Bench, type BenchResult } from '../harness.js';

const MiB = 1024 * 1024;
const here = dirname(fileURLToPath(import.meta.url));

interface Receiver {
  child: ChildProcess;
  info: { addr?: string; port?: number };
}

/** Starts `receiver.ts` in a child process and waits for its address line. */
async function startReceiver(mode: 'libp2p' | 'tcp', hostOptions: HostOptions = {}): Promise<Receiver> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'receiver.ts'), mode, JSON.stringify(hostOptions)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const lines = createInterface({ input: child.stdout! });
  const info = await new Promise<Receiver['info']>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`p2p bench: the ${mode} receiver did not start within 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`p2p bench: the ${mode} receiver exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as Receiver['info']);
    });
  });
  return { child, info };
}

function stopReceiver(r: Receiver | undefined): void {
  if (r === undefined || r.child.exitCode !== null) return;
  r.child.stdin?.end(); // the receiver exits when its stdin closes
  r.child.kill('SIGKILL');
}

/** Sends `bytes` (4-byte length first) over one TCP connection and waits for the answer byte. */
function tcpSender(port: number): Promise<{ send: (bytes: Uint8Array) => Promise<number>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true }, () => {
      // The answer is 4 bytes: the receiver's CPU ms for the message.
      let waiting: ((cpuMs: number) => void) | null = null;
      let answer = Buffer.alloc(0);
      socket.on('data', (b: Buffer) => {
        answer = Buffer.concat([answer, b]);
        if (answer.byteLength < 4) return;
        const cpuMs = answer.readUInt32BE(0);
        answer = answer.subarray(4);
        const w = waiting;
        waiting = null;
        w?.(cpuMs);
      });
      const send = async (bytes: Uint8Array): Promise<number> => {
        const answered = new Promise<number>((r) => (waiting = r));
        const len = Buffer.alloc(4);
        len.writeUInt32BE(bytes.byteLength, 0);
        socket.write(len);
        // Same chunking as the libp2p side (1 MiB frames), with the same backpressure.
        for (let off = 0; off < bytes.byteLength; off += MiB) {
          if (!socket.write(bytes.subarray(off, Math.min(bytes.byteLength, off + MiB)))) {
            await new Promise<void>((r) => socket.once('drain', () => r()));
          }
        }
        return answered;
      };
      resolve({ send, close: () => socket.destroy() });
    });
    socket.once('error', reject);
  });
}

function update64(): Update {
  const delta = ParamSet.zeros([{ name: 'w', shape: [16 * MiB] }]);
  fillSignal(delta.data, 7);
  return encodeUpdate({ runId: 'bench', sender: 'bench', baseVersion: 0, round: 0, sequence: 0, examples: 1 }, fullSlice(delta.specs), delta, { codec: 'fp32' });
}

/** Wall seconds of `fn`, the sender's CPU ms, and the receiver's CPU ms (what `fn` returns). */
async function timed(fn: () => Promise<number>): Promise<{ s: number; sendCpu: number; recvCpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const recvCpu = await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { s, sendCpu: (c.user + c.system) / 1000, recvCpu };
}

/** Runs the comparison; `hostOptions` apply to both libp2p hosts (for tuning experiments). */
export async function measurePush(repeats = 5, hostOptions: HostOptions = {}): Promise<BenchResult> {
  const update = update64();
  const bytes = update.tensors[0].payload;
  let lpRecv: Receiver | undefined;
  let tcpRecv: Receiver | undefined;
  let host: FedHost | undefined;
  let tcp: Awaited<ReturnType<typeof tcpSender>> | undefined;
  try {
    [lpRecv, tcpRecv] = await Promise.all([startReceiver('libp2p', hostOptions), startReceiver('tcp')]);
    host = await createHost(hostOptions);
    tcp = await tcpSender(tcpRecv.info.port!);
    const addr = lpRecv.info.addr!;
    const h = host;
    const t = tcp;
    // The receivers answer with their CPU ms (the libp2p one as the acknowledged version).
    const push = async (): Promise<number> => (await pushUpdate(h, addr, update, { timeoutMs: 60_000 })).version;
    const raw = (): Promise<number> => t.send(bytes);
    await push(); // warm-up: connection, noise handshake, JIT
    await raw();
    const lp: Awaited<ReturnType<typeof timed>>[] = [];
    const base: Awaited<ReturnType<typeof timed>>[] = [];
    for (let i = 0; i < repeats; i++) {
      lp.push(await timed(push));
      base.push(await timed(raw));
    }
    const s = median(lp.map((x) => x.s));
    const baseS = median(base.map((x) => x.s));
    const mbps = bytes.byteLength / s / 1e6;
    const baseMbps = bytes.byteLength / baseS / 1e6;
    return {
      name: 'p2p.update.push',
      value: round(mbps),
      unit: 'MB/s',
      baseline: { name: 'raw TCP (node:net), two processes', value: round(baseMbps), unit: 'MB/s' },
      ratio: round(mbps / baseMbps),
      detail: {
        bytes: bytes.byteLength,
        ms: round(s * 1e3),
        tcp_ms: round(baseS * 1e3),
        // CPU per transfer shows where the time goes when the machine is busy.
        send_cpu_ms: round(median(lp.map((x) => x.sendCpu))),
        recv_cpu_ms: round(median(lp.map((x) => x.recvCpu))),
        tcp_send_cpu_ms: round(median(base.map((x) => x.sendCpu))),
        tcp_recv_cpu_ms: round(median(base.map((x) => x.recvCpu))),
        repeats,
        frame_bytes: MiB,
      },
    };
  } finally {
    tcp?.close();
    if (host !== undefined) await Promise.resolve(host.stop()).catch(() => undefined);
    stopReceiver(lpRecv);
    stopReceiver(tcpRecv);
  }
}

export const p2pBenches: Bench[] = [{ group: 'p2p', name: 'p2p.update.push', run: () => measurePush() }];

// `node --import tsx bench/p2p/index.ts [HOST_OPTIONS_JSON]` runs it alone (for tuning).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await measurePush(Number(process.env.REPEATS ?? 5), JSON.parse(process.argv[2] ?? '{}') as HostOptions);
  console.log(JSON.stringify(r));
}
