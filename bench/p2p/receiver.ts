/**
 * The receiving process of the p2p benchmark: `receiver.ts libp2p|tcp-frames|tcp-bytes
 * [HOST_OPTIONS_JSON [TCP_HOST]]` (the raw TCP baselines listen on TCP_HOST, 127.0.0.1 unless
 * given; the libp2p host where HOST_OPTIONS_JSON's listen says). Prints one JSON line with its address on stdout, then serves until
 * stdin closes (the parent exiting or killing it) so it never outlives the benchmark.
 *   libp2p:     a fednode host serving /fednode/update/1 (updates are assembled and acknowledged)
 *   tcp-frames: the same protocol's frames over node:net, handled by the same code (tcp.ts)
 *   tcp-bytes:  a length and bytes over node:net, one concat, no protocol (tcp.ts)
 * Every answer carries this process's CPU milliseconds since the previous answer.
 */
import { createHost, hostAddr, serveUpdates } from '../../packages/node/src/net/index.js';
import { serveTcp } from './tcp.js';

const mode = process.argv[2];

// P2P_GC_TRACE=1: each answer also prints, on stderr, the GC pauses since the previous one
// (ms in all, count, ms by kind: 1 scavenge, 2 mark-compact, 4 incremental, 8 weak callbacks)
// and the peak RSS in MiB.
const gcTrace = process.env.P2P_GC_TRACE === '1';
let gc = { ms: 0, count: 0, byKind: {} as Record<number, number> };
if (gcTrace) {
  const { PerformanceObserver } = await import('node:perf_hooks');
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail: { kind: number } }).detail.kind;
      gc.ms += e.duration;
      gc.count++;
      gc.byKind[kind] = Math.round((gc.byKind[kind] ?? 0) + e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
}

let lastCpu = process.cpuUsage();
function cpuMsSinceLast(): number {
  const d = process.cpuUsage(lastCpu);
  lastCpu = process.cpuUsage();
  if (gcTrace) {
    const rss = Math.round(process.resourceUsage().maxRSS / 1024);
    process.stderr.write(`gc ${mode} ${gc.ms.toFixed(1)} ms ${gc.count} ${JSON.stringify(gc.byKind)} rss ${rss}\n`);
    gc = { ms: 0, count: 0, byKind: {} };
  }
  return Math.round((d.user + d.system) / 1000);
}
const hostOptions = JSON.parse(process.argv[3] ?? '{}') as Parameters<typeof createHost>[0];

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

if (mode === 'libp2p') {
  const host = await createHost(hostOptions);
  // The acknowledged version is the CPU time, so the sender can report the receiver's cost.
  await serveUpdates(host, { timeoutMs: 60_000, onUpdate: () => ({ version: cpuMsSinceLast() }) });
  process.stdout.write(JSON.stringify({ addr: hostAddr(host) }) + '\n');
} else if (mode === 'tcp-frames' || mode === 'tcp-bytes') {
  const port = await serveTcp(mode === 'tcp-frames' ? 'frames' : 'bytes', cpuMsSinceLast, undefined, process.argv[4]);
  process.stdout.write(JSON.stringify({ port }) + '\n');
} else {
  console.error(`receiver: unknown mode ${String(mode)} (libp2p, tcp-frames or tcp-bytes)`);
  process.exit(2);
}
