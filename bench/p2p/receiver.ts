/**
 * The receiving process of the p2p benchmark: `receiver.ts libp2p|tcp`. Prints one JSON line
 * with its address on stdout, then serves until stdin closes (the parent exiting or killing
 * it) so it never outlives the benchmark.
 *   libp2p: a fednode host serving /fednode/update/1 (updates are assembled and acknowledged)
 *   tcp:    a node:net server reading a 4-byte length and that many bytes, answering 1 byte
 */
import { createServer, type Socket } from 'node:net';
import { createHost, hostAddr, serveUpdates } from '../../packages/node/src/net/index.js';

const mode = process.argv[2];

let lastCpu = process.cpuUsage();
function cpuMsSinceLast(): number {
  const d = process.cpuUsage(lastCpu);
  lastCpu = process.cpuUsage();
  return Math.round((d.user + d.system) / 1000);
}
const hostOptions = JSON.parse(process.argv[3] ?? '{}') as Parameters<typeof createHost>[0];

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

if (mode === 'libp2p') {
  const host = await createHost(hostOptions);
  // The acknowledged version is the CPU milliseconds this process spent since the last
  // acknowledgement, so the sender can report the receiver's cost per push.
  await serveUpdates(host, { timeoutMs: 60_000, onUpdate: () => ({ version: cpuMsSinceLast() }) });
  process.stdout.write(JSON.stringify({ addr: hostAddr(host) }) + '\n');
} else if (mode === 'tcp') {
  const server = createServer((socket: Socket) => {
    let pieces: Buffer[] = [];
    let have = 0;
    let want = -1;
    socket.on('data', (b: Buffer) => {
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
        // One contiguous message, as an application needs it (the libp2p side assembles
        // its payload too), then answer with this process's CPU ms since the last answer.
        const all = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
        pieces = have > want ? [all.subarray(want)] : [];
        have -= want;
        want = -1;
        const answer = Buffer.alloc(4);
        answer.writeUInt32BE(Math.min(cpuMsSinceLast(), 0xffffffff) >>> 0, 0);
        socket.write(answer);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    if (a === null || typeof a === 'string') throw new Error('no TCP address');
    process.stdout.write(JSON.stringify({ port: a.port }) + '\n');
  });
} else {
  console.error(`receiver: unknown mode ${String(mode)} (libp2p or tcp)`);
  process.exit(2);
}
