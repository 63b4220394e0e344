/**
 * Real `fednode` processes on 127.0.0.1 for the end-to-end tests: identities, run files, free
 * ports, JSON-line logs to wait on, and children that are always killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { generateIdentity, saveIdentity } from '@fednode/node';

export const CLI = fileURLToPath(new URL('../packages/node/dist/cli.js', import.meta.url));
const FAULT_CLI = fileURLToPath(new URL('./fault-fednode.ts', import.meta.url));

export type LogLine = { t: string; level: string; event: string } & Record<string, unknown>;

export { freePort } from '@fednode/node';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export class Cluster {
  readonly dir: string;
  private readonly procs: Proc[] = [];

  private readonly onExit = (): void => {
    for (const p of this.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  };

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), `fednode-${prefix}-`));
    // A test that times out never reaches its finally: no child may outlive the runner.
    process.once('exit', this.onExit);
  }

  /** A new identity file; returns its path and peer id. */
  async key(name: string): Promise<{ path: string; peerId: string }> {
    const path = join(this.dir, `${name}.key`);
    const peerId = saveIdentity(path, await generateIdentity());
    return { path, peerId };
  }

  writeRun(name: string, run: Record<string, unknown>): string {
    const p = join(this.dir, `${name}.yaml`);
    writeFileSync(p, stringify(run));
    return p;
  }

  /** Starts `fednode start ...`; its JSON-line log goes to <dir>/<name>.log (appended across restarts). */
  start(name: string, args: string[], env: Record<string, string> = {}): Proc {
    const log = join(this.dir, `${name}.log`);
    // FEDNODE_FAULT reaches only the test build of the CLI (test/fault-fednode.ts).
    const cli = env.FEDNODE_FAULT === undefined ? [CLI] : ['--import', 'tsx', FAULT_CLI];
    const child = spawn(process.execPath, [...cli, 'start', ...args, '--log', log], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => {
        if (code !== 0 && code !== null && stderr !== '') process.stderr.write(`[${name}] ${stderr}\n`);
        resolve({ code, signal });
      }),
    );
    const p: Proc = { name, child, log, exited };
    this.procs.push(p);
    return p;
  }

  /** Kills every child still running and removes the directory. */
  /**
   * Starts `n` decentralised peers of `run` one after another (shard i, key `p<i>`; peer 0 the
   * others' bootstrap) and returns each one's log and first address once it has started.
   */
  async startPeers(run: string, n: number, extra: string[] = []): Promise<{ log: string; addr: string }[]> {
    const peers: { log: string; addr: string }[] = [];
    for (let i = 0; i < n; i++) {
      const key = await this.key(`p${i}`);
      const p = this.start(`p${i}`, ['--config', run, '--role', 'peer', '--shard', String(i), '--key', key.path, '--data-dir', this.dataDir(`p${i}`), ...extra, ...(i === 0 ? [] : ['--bootstrap', peers[0].addr])]);
      const started = await waitForLog(p.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, `p${i} to start`);
      peers.push({ log: p.log, addr: (started.addrs as string[])[0] });
    }
    return peers;
  }

  async close(): Promise<void> {
    process.removeListener('exit', this.onExit);
    this.onExit();
    await Promise.all(this.procs.map((p) => p.exited));
    if (process.env.FEDNODE_KEEP_TEST_DIRS !== '1') rmSync(this.dir, { recursive: true, force: true });
  }

  dataDir(name: string): string {
    const d = join(this.dir, name);
    mkdirSync(d, { recursive: true });
    return d;
  }
}

/** A `fednode` CLI process, its stdout and stderr together, and its exit. */
export function fednodeProcess(args: string[]): { child: ChildProcess; out: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, out: () => out, exited };
}

/** `p`, or a failure naming `what` after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function readLog(path: string): LogLine[] {
  if (!existsSync(path)) return [];
  // A line still being written has no newline yet: read only complete lines.
  const text = readFileSync(path, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** Waits until `find` returns something for the log's lines; fails after `timeoutMs`. */
export async function waitForLog<T>(path: string, find: (lines: LogLine[]) => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = find(readLog(path));
    if (r !== undefined && r !== null && r !== false) return r;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} in ${path}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export function fednodeSync(args: string[], timeoutMs = 30_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A run file for MNIST MLP on `shares` trainers; `over` replaces top-level keys. */
export function mnistRun(name: string, shares: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    run: name,
    seed: 1,
    task: { name: 'mlp', dataset: 'mnist' },
    data: { trainRows: 6000, testRows: 10000, partition: { kind: 'iid' }, shares },
    codec: { codec: 'int8', errorFeedback: true },
    strategy: { kind: 'fedavg', cohort: shares, deadlineS: 60, minParticipants: shares },
    rounds: 5,
    local: { epochs: 1, batch: 64, lr: 0.05, momentum: 0.9 },
    limits: { timeoutS: 10, pollS: 0.5, lingerS: 0.5 },
    ...over,
  };
}

/** A decentralised run document: `shares` DeMo peers on MNIST's MLP (`sync` entries override the defaults). */
export function mnistPeerRun(name: string, shares: number, sync: Record<string, unknown>, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    run: name,
    mode: 'decentralised',
    seed: 1,
    task: { name: 'mlp', dataset: 'mnist' },
    data: { partition: { kind: 'iid' }, shares, evalSamples: 500 },
    sync: { algorithm: 'demo', steps: 20, batch: 32, lr: 0.01, minPeers: shares, timeoutS: 15, hashEvery: 5, ...sync },
    limits: { lingerS: 1, timeoutS: 10 },
    ...over,
  };
}
