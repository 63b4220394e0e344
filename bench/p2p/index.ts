/**
 * `p2p.update.push`: a 64 MiB update pushed over libp2p (TCP + noise + yamux,
 * /fednode/update/1, acknowledged by a fednode host in another process) against the same
 * protocol's frames over raw TCP (node:net) between two processes, handled by the same
 * framing and assembly code (tcp.ts, mode `frames`). Both do the same application work, so
 * the ratio of record (libp2p / that) is what noise, yamux and libp2p's stream plumbing
 * cost. `p2p.update.push.bytes_only` sets the same libp2p figure against TCP moving only the
 * payload's bytes (mode `bytes`): no framing, no parsing, one concat; it bounds what any
 * protocol could reach, but the two sides do not do the same work.
 * All three are alternated in one run; MB/s of payload, medians of `repeats`.
 * `p2p.update.push.shaped100` runs the same comparison across one veth shaped to 100 Mbit/s
 * by tc (root only; skipped with the reason otherwise).
 *
 * Every process of the measurement, the sending one included (a child of the bench runner),
 * runs with the node flags a fednode daemon runs with (NODE_FLAGS, as bin/fednode.js sets them),
 * libp2p and raw TCP alike. P2P_NODE_FLAGS replaces them for experiments ('' for V8's defaults);
 * P2P_GC_TRACE=1 has the receivers print their GC time per transfer on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ParamSet, encodeUpdate, fullSlice, type Update } from '../../packages/core/src/index.js';
import { createHost, networkKeyOf, pushUpdate, type FedHost, type HostOptions } from '../../packages/node/src/net/index.js';
import { ShapedNetwork, shapingUnavailable } from '../../packages/node/src/index.js';
import { fillSignal, median, round, type Bench, type BenchResult } from '../harness.js';
import { tcpSender, type TcpSender } from './tcp.js';

const MiB = 1024 * 1024;
const here = dirname(fileURLToPath(import.meta.url));

type Mode = 'libp2p' | 'tcp-frames' | 'tcp-bytes';

interface Receiver {
  child: ChildProcess;
  info: { addr?: string; port?: number };
}

/**
 * The node flags of every process here, senders and receivers of both transports: those of a
 * fednode daemon (bin/fednode.js turns concurrent marking off; keep the two in step).
 * P2P_NODE_FLAGS (space separated) replaces them.
 */
export const NODE_FLAGS: readonly string[] = (process.env.P2P_NODE_FLAGS ?? '--no-concurrent-marking').split(' ').filter(Boolean);

/**
 * Where the measurement runs: on 127.0.0.1 (null), or across a shaped link, the receivers in
 * one network namespace listening on its address and the measuring process in another.
 */
export interface Placement {
  readonly receiverNs: string;
  readonly receiverAddr: string;
  readonly senderNs: string;
  /** Size of the pushed update (smaller than on loopback: a shaped link is slower). */
  readonly mib: number;
}

/** `argv` run as is, or inside network namespace `ns` (`ip netns exec` execs it: same process). */
function spawnIn(ns: string | null, argv: readonly string[], stdio: 'receiver' | 'child'): ChildProcess {
  const io: ['pipe' | 'ignore', 'pipe', 'inherit'] = stdio === 'receiver' ? ['pipe', 'pipe', 'inherit'] : ['ignore', 'pipe', 'inherit'];
  return ns === null ? spawn(argv[0], argv.slice(1), { stdio: io }) : spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: io });
}

/** Starts `receiver.ts` in a child process and waits for its address line. */
async function startReceiver(mode: Mode, hostOptions: HostOptions = {}, at: Placement | null = null): Promise<Receiver> {
  const options = at === null ? hostOptions : { ...hostOptions, listen: [`/ip4/${at.receiverAddr}/tcp/0`] };
  const child = spawnIn(at?.receiverNs ?? null, [process.execPath, ...NODE_FLAGS, '--import', 'tsx', join(here, 'receiver.ts'), mode, JSON.stringify(options), at?.receiverAddr ?? '127.0.0.1'], 'receiver');
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

function updateOf(mib: number): Update {
  const delta = ParamSet.zeros([{ name: 'w', shape: [(mib / 4) * MiB] }]);
  fillSignal(delta.data, 7);
  return encodeUpdate({ runId: 'bench', sender: 'bench', baseVersion: 0, round: 0, sequence: 0, examples: 1 }, fullSlice(delta.specs), delta, { codec: 'fp32' });
}

interface Timing {
  s: number;
  sendCpu: number;
  recvCpu: number;
}

/** Wall seconds of `fn`, the sender's CPU ms, and the receiver's CPU ms (what `fn` returns). */
async function timed(fn: () => Promise<number>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const recvCpu = await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { s, sendCpu: (c.user + c.system) / 1000, recvCpu };
}

function summary(ts: Timing[], bytes: number): { mbps: number; ms: number; sendCpu: number; recvCpu: number } {
  const s = median(ts.map((x) => x.s));
  return { mbps: bytes / s / 1e6, ms: s * 1e3, sendCpu: median(ts.map((x) => x.sendCpu)), recvCpu: median(ts.map((x) => x.recvCpu)) };
}

export interface PushResults {
  /** libp2p against the same protocol over raw TCP: the ratio of record. */
  framed: BenchResult;
  /** libp2p against raw TCP moving bytes only. */
  bytesOnly: BenchResult;
}

/** Runs the comparison; `hostOptions` apply to both libp2p hosts (for tuning experiments). */
export async function measurePush(repeats = 7, hostOptions: HostOptions = {}, at: Placement | null = null): Promise<PushResults> {
  const update = updateOf(at?.mib ?? 64);
  const bytes = update.tensors[0].payload.byteLength;
  const receivers: Receiver[] = [];
  let host: FedHost | undefined;
  const senders: TcpSender[] = [];
  try {
    const [lpRecv, framesRecv, bytesRecv] = await Promise.all([startReceiver('libp2p', hostOptions, at), startReceiver('tcp-frames', {}, at), startReceiver('tcp-bytes', {}, at)]);
    receivers.push(lpRecv, framesRecv, bytesRecv);
    host = await createHost(hostOptions);
    const tcpHost = at?.receiverAddr ?? '127.0.0.1';
    const framesTcp = await tcpSender(framesRecv.info.port!, 'frames', tcpHost);
    const bytesTcp = await tcpSender(bytesRecv.info.port!, 'bytes', tcpHost);
    senders.push(framesTcp, bytesTcp);
    const h = host;
    const addr = lpRecv.info.addr!;
    // The receivers answer with their CPU ms (the libp2p one as the acknowledged version).
    const runs: [string, () => Promise<number>][] = [
      ['libp2p', async () => (await pushUpdate(h, addr, update, { timeoutMs: 60_000 })).version],
      ['frames', () => framesTcp.push(update)],
      ['bytes', () => bytesTcp.push(update)],
    ];
    for (const [, run] of runs) await run(); // warm-up: connections, noise handshake, JIT
    const times = new Map<string, Timing[]>(runs.map(([name]) => [name, []]));
    for (let i = 0; i < repeats; i++) for (const [name, run] of runs) times.get(name)!.push(await timed(run));
    const lp = summary(times.get('libp2p')!, bytes);
    const framed = summary(times.get('frames')!, bytes);
    const raw = summary(times.get('bytes')!, bytes);
    const detail = {
      bytes,
      ms: round(lp.ms),
      // CPU per transfer shows where the time goes when the machine is busy.
      send_cpu_ms: round(lp.sendCpu),
      recv_cpu_ms: round(lp.recvCpu),
      repeats,
      frame_bytes: MiB,
      node_flags: NODE_FLAGS.join(' '),
    };
    return {
      framed: {
        name: 'p2p.update.push',
        value: round(lp.mbps),
        unit: 'MB/s',
        baseline: { name: 'raw TCP (node:net), two processes, same frames and assembly', value: round(framed.mbps), unit: 'MB/s' },
        ratio: round(lp.mbps / framed.mbps),
        detail: { ...detail, tcp_ms: round(framed.ms), tcp_send_cpu_ms: round(framed.sendCpu), tcp_recv_cpu_ms: round(framed.recvCpu) },
      },
      bytesOnly: {
        name: 'p2p.update.push.bytes_only',
        value: round(lp.mbps),
        unit: 'MB/s',
        baseline: { name: 'raw TCP (node:net), two processes, payload bytes only', value: round(raw.mbps), unit: 'MB/s' },
        ratio: round(lp.mbps / raw.mbps),
        detail: { ...detail, tcp_ms: round(raw.ms), tcp_send_cpu_ms: round(raw.sendCpu), tcp_recv_cpu_ms: round(raw.recvCpu) },
      },
    };
  } finally {
    for (const s of senders) s.close();
    if (host !== undefined) await Promise.resolve(host.stop()).catch(() => undefined);
    for (const r of receivers) stopReceiver(r);
  }
}

/**
 * Runs `measurePush` in a child process with NODE_FLAGS (the bench runner's own flags differ,
 * and V8's GC flags cannot be changed safely in a process that is already running).
 */
export async function measurePushInChild(repeats = 7, hostOptions: HostOptions = {}, at: Placement | null = null): Promise<PushResults> {
  const child = spawnIn(at?.senderNs ?? null, [process.execPath, ...NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(repeats), JSON.stringify(hostOptions), JSON.stringify(at)], 'child');
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  process.removeListener('exit', killOnExit);
  if (code !== 0) throw new Error(`p2p bench: the measuring process exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as PushResults;
}

// One measurement serves both entries.
let measured: Promise<PushResults> | undefined;
const results = (): Promise<PushResults> => (measured ??= measurePushInChild());

const SHAPED_NAME = 'p2p.update.push.shaped100';

/**
 * `p2p.update.push.shaped100`: the same comparison across one link shaped to 100 Mbit/s by tc
 * (tbf on the sender's end of a veth pair; the receivers in another network namespace), a
 * 16 MiB update (1.3 s on the link). The ratio is how close libp2p comes to what raw TCP gets
 * through the same link. Needs root: skipped with the reason otherwise.
 */
async function shaped100(): Promise<BenchResult> {
  const net = await ShapedNetwork.create([
    { name: 'receiver', uplinkMbps: null, downlinkMbps: null },
    { name: 'sender', uplinkMbps: 100, downlinkMbps: null },
  ]);
  try {
    const r = (await measurePushInChild(5, {}, { receiverNs: net.nsOf('receiver'), receiverAddr: net.addrOf('receiver'), senderNs: net.nsOf('sender'), mib: 16 })).framed;
    const wire = (await net.bytes()).get('sender')!;
    return { ...r, name: SHAPED_NAME, baseline: { ...r.baseline, name: 'raw TCP (node:net) across the same 100 Mbit/s tbf-shaped veth, same frames and assembly' }, detail: { ...r.detail, link_mbps: 100, bytes_through_the_link: wire.up } };
  } finally {
    net.removeSync();
  }
}

/**
 * `p2p.update.push.private_network`: the same push inside a run's private network (the key
 * derived from a pre-shared key: XSalsa20 under noise, what keeps non-members from connecting)
 * against the open network's figure of this run: the ratio is what membership costs.
 */
async function privateNetwork(): Promise<BenchResult> {
  const open = (await results()).framed;
  const priv = (await measurePushInChild(7, { networkKey: networkKeyOf('bench-pre-shared-key-0123456789', 'bench') })).framed;
  return {
    name: 'p2p.update.push.private_network',
    value: priv.value,
    unit: 'MB/s',
    baseline: { name: 'the same push on an open network (p2p.update.push)', value: open.value, unit: 'MB/s' },
    ratio: round(priv.value / open.value),
    detail: { ...priv.detail, raw_tcp_mbps: priv.baseline.value, ratio_to_raw_tcp: priv.ratio },
  };
}

export const p2pBenches: Bench[] = [
  { group: 'p2p', name: 'p2p.update.push', run: async () => (await results()).framed },
  { group: 'p2p', name: 'p2p.update.push.bytes_only', run: async () => (await results()).bytesOnly },
  { group: 'p2p', name: 'p2p.update.push.private_network', run: privateNetwork },
  { group: 'p2p', name: SHAPED_NAME, skip: shapingUnavailable, run: shaped100 },
];

// `node --import tsx bench/p2p/index.ts [HOST_OPTIONS_JSON]` runs it alone (for tuning; REPEATS=n).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--child') {
    // The measuring process started by measurePushInChild: its results as one JSON line.
    const r = await measurePush(Number(process.argv[3]), JSON.parse(process.argv[4] ?? '{}') as HostOptions, JSON.parse(process.argv[5] ?? 'null') as Placement | null);
    console.log(JSON.stringify(r));
  } else {
    const r = await measurePushInChild(Number(process.env.REPEATS ?? 7), JSON.parse(process.argv[2] ?? '{}') as HostOptions);
    console.log(JSON.stringify(r.framed));
    console.log(JSON.stringify(r.bytesOnly));
  }
}
