/**
 * Shaped links for real runs: every daemon in its own network namespace, joined to a bridge in
 * a hub namespace by a veth pair, each link's rates applied by `tc` token-bucket shaping (tbf):
 * on the daemon's end of its veth (what it sends: its uplink) and on the hub's end (what it
 * receives: its downlink). Latency is not applied (netem is not available on every kernel).
 *
 * Every namespace is named `fednode-<pid>-<n>-<what>` (the creating process's id and a count
 * within it): removing a namespace removes its veth ends and their qdiscs, so removing the
 * namespaces of a prefix removes everything a topology made. `sweepStaleNamespaces` removes
 * those of processes that are gone (a run killed with SIGKILL cannot clean up after itself),
 * killing what still runs inside them first.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { processAlive } from '@fednode/core';
import { SimError } from './errors.js';

const run = promisify(execFile);

/** One daemon's link: rates in Mbit/s, null for an unshaped direction. */
export interface LinkSpec {
  readonly name: string;
  readonly uplinkMbps: number | null;
  readonly downlinkMbps: number | null;
}

/** Bytes through each direction of a daemon's link since the topology was built (what the qdiscs counted, IP headers included). */
export interface LinkBytes {
  readonly up: number;
  readonly down: number;
}

const PREFIX = 'fednode-';
const OWNED = /^fednode-(\d+)-\d+-/;
/** The largest burst tbf lets through at line rate: small against the payloads, at least a few full-size packets. */
const BURST = '32kb';
/** Queueing delay before tbf drops: TCP then backs off to the rate rather than filling a queue without bound. */
const QUEUE_LATENCY = '50ms';
const BRIDGE = 'br0';

let topologies = 0;

/** Why shaped links cannot be built here, or null when they can. */
export function shapingUnavailable(): string | null {
  if (process.platform !== 'linux') return `shaped links need Linux network namespaces (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'shaped links need root (CAP_NET_ADMIN, for network namespaces, veth pairs and tc qdiscs): run as root, or drop --shaped';
  for (const tool of ['ip', 'tc']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      return `shaped links need iproute2's ${tool} on the PATH (apt-get install iproute2)`;
    }
  }
  return null;
}

async function ip(args: readonly string[], what: string): Promise<string> {
  try {
    return (await run('ip', [...args], { maxBuffer: 16 * 2 ** 20 })).stdout;
  } catch (e) {
    throw new SimError('SIM_RUN', `shaped links: ${what} failed (ip ${args.join(' ')}): ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
}

async function tc(args: readonly string[], what: string): Promise<string> {
  try {
    return (await run('tc', [...args], { maxBuffer: 16 * 2 ** 20 })).stdout;
  } catch (e) {
    throw new SimError('SIM_RUN', `shaped links: ${what} failed (tc ${args.join(' ')}): ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
}

/** Namespaces that `ip netns list` shows with the given prefix. */
export function listNamespaces(prefix = PREFIX): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(prefix));
}

/** Kills whatever runs inside `names`, then removes them (and with them their veth ends and qdiscs). Synchronous: it also runs from an exit handler. */
export function removeNamespacesSync(names: readonly string[]): void {
  for (const ns of names) {
    let pids: number[] = [];
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    } catch {
      // already gone
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
  }
  for (const ns of names) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** Removes the namespaces (and all they hold) that processes no longer running made; returns their names. */
export function sweepStaleNamespaces(): string[] {
  const stale = listNamespaces().filter((ns) => {
    const m = OWNED.exec(ns);
    return m !== null && Number(m[1]) !== process.pid && !processAlive(Number(m[1]));
  });
  removeNamespacesSync(stale);
  return stale;
}

/** Address of daemon `i` of a topology: the first at 10.99.0.1, then 10.99.1.1 onwards. */
function addressOf(i: number): string {
  return i === 0 ? '10.99.0.1' : `10.99.${1 + Math.floor((i - 1) / 200)}.${1 + ((i - 1) % 200)}`;
}

const rateArg = (mbps: number): string => `${Math.round(mbps * 1000)}kbit`;

/**
 * A topology of shaped links. `create` builds it (removing what it made when a step fails);
 * `removeSync` takes it down; so do the process's exit and SIGINT or SIGTERM (Node exits on
 * those without its exit handlers), so an interrupted run leaves nothing behind.
 */
export class ShapedNetwork {
  private removed = false;
  private readonly onExit = (): void => this.removeSync();
  /** Takes the topology down, then lets the signal do what it would have: end the process, unless someone else listens for it (and ends it). */
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.removeSync();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };

  private constructor(
    readonly prefix: string,
    private readonly links: readonly LinkSpec[],
    private readonly hub: string,
  ) {}

  static async create(links: readonly LinkSpec[]): Promise<ShapedNetwork> {
    const why = shapingUnavailable();
    if (why !== null) throw new SimError('SIM_RUN', why);
    if (new Set(links.map((l) => l.name)).size !== links.length) throw new SimError('SIM_RUN', 'shaped links: two links have the same name');
    for (const l of links) {
      for (const r of [l.uplinkMbps, l.downlinkMbps]) {
        if (r !== null && !(r > 0 && Number.isFinite(r))) throw new SimError('SIM_RUN', `shaped links: ${l.name} has a rate of ${r} Mbit/s; expected a positive number`);
      }
    }
    sweepStaleNamespaces();
    const prefix = `${PREFIX}${process.pid}-${topologies++}-`;
    const net = new ShapedNetwork(prefix, links, `${prefix}hub`);
    process.once('exit', net.onExit);
    process.once('SIGINT', net.onSignal);
    process.once('SIGTERM', net.onSignal);
    try {
      await net.build();
    } catch (e) {
      net.removeSync();
      throw e;
    }
    return net;
  }

  /** The namespace daemon `name` runs in. */
  nsOf(name: string): string {
    const i = this.indexOf(name);
    return `${this.prefix}${i}`;
  }

  /** The IPv4 address daemon `name` has in its namespace. */
  addrOf(name: string): string {
    return addressOf(this.indexOf(name));
  }

  private indexOf(name: string): number {
    const i = this.links.findIndex((l) => l.name === name);
    if (i < 0) throw new SimError('SIM_RUN', `shaped links: no link named ${name}`);
    return i;
  }

  private async build(): Promise<void> {
    await ip(['netns', 'add', this.hub], 'creating the hub namespace');
    await ip(['-n', this.hub, 'link', 'add', BRIDGE, 'type', 'bridge'], 'creating the bridge');
    await ip(['-n', this.hub, 'link', 'set', BRIDGE, 'up'], 'bringing the bridge up');
    // One daemon at a time: each is a handful of quick commands.
    for (let i = 0; i < this.links.length; i++) {
      const l = this.links[i];
      const ns = `${this.prefix}${i}`;
      const hubEnd = `v${i}`;
      await ip(['netns', 'add', ns], `creating the namespace of ${l.name}`);
      await ip(['-n', this.hub, 'link', 'add', hubEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns], `creating the veth pair of ${l.name}`);
      await ip(['-n', this.hub, 'link', 'set', hubEnd, 'master', BRIDGE, 'up'], `attaching ${l.name}'s veth to the bridge`);
      await ip(['-n', ns, 'addr', 'add', `${addressOf(i)}/16`, 'dev', 'eth0'], `addressing ${l.name}`);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up'], `bringing ${l.name}'s link up`);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up'], `bringing ${l.name}'s loopback up`);
      if (l.uplinkMbps !== null) await tc(['-n', ns, 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', rateArg(l.uplinkMbps), 'burst', BURST, 'latency', QUEUE_LATENCY], `shaping ${l.name}'s uplink`);
      if (l.downlinkMbps !== null) await tc(['-n', this.hub, 'qdisc', 'add', 'dev', hubEnd, 'root', 'tbf', 'rate', rateArg(l.downlinkMbps), 'burst', BURST, 'latency', QUEUE_LATENCY], `shaping ${l.name}'s downlink`);
    }
  }

  /** Bytes each shaped direction has carried, by daemon name (0 for an unshaped direction). */
  async bytes(): Promise<Map<string, LinkBytes>> {
    type Qdisc = { kind: string; dev?: string; bytes: number };
    const parse = (json: string): Qdisc[] => JSON.parse(json) as Qdisc[];
    const down = new Map(parse(await tc(['-s', '-j', '-n', this.hub, 'qdisc', 'show'], 'reading the downlink counters')).filter((q) => q.kind === 'tbf').map((q) => [q.dev, q.bytes]));
    const out = new Map<string, LinkBytes>();
    for (let i = 0; i < this.links.length; i++) {
      const l = this.links[i];
      const up = l.uplinkMbps === null ? 0 : (parse(await tc(['-s', '-j', '-n', `${this.prefix}${i}`, 'qdisc', 'show', 'dev', 'eth0'], `reading ${l.name}'s uplink counter`)).find((q) => q.kind === 'tbf')?.bytes ?? 0);
      out.set(l.name, { up, down: down.get(`v${i}`) ?? 0 });
    }
    return out;
  }

  /** Namespaces of this topology that still exist. */
  remaining(): string[] {
    return listNamespaces(this.prefix);
  }

  /** Takes the topology down: what runs inside is killed, every namespace with its veths and qdiscs removed. */
  removeSync(): void {
    if (this.removed) return;
    this.removed = true;
    process.removeListener('exit', this.onExit);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    removeNamespacesSync(listNamespaces(this.prefix));
  }
}
