/**
 * `fednode simulate FILE --real`: the scenario as real `fednode` daemons on 127.0.0.1 (one
 * aggregator and a trainer per share, 16 by default and up to 64 with `trainers`, each its own process of the built CLI) instead of the
 * simulator. The daemons read the scenario itself (a run document); progress is read back from the daemons'
 * JSON-line logs and turned into the simulator's `RoundRecord`s, so metrics.jsonl, the report
 * and the summary look the same. Time is wall time: `virtual_time_s` is the wall seconds since
 * the aggregator opened its first round (process start-up and data loading excluded).
 * With `shaped`, each daemon runs in its own network namespace and the trainers' links carry
 * the scenario's uplink and downlink rates (netns.ts).
 */
import { summarizeRun } from './summary.js';
import { MODEL_HEADER_BYTES, UPDATE_HEADER_BYTES } from './simulator.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { checkRunFile, type RunFile } from '../daemon/run-file.js';
import { generateIdentity, saveIdentity } from '../net/identity.js';
import { freePort } from '../runtime/free-port.js';
import { SimError } from './errors.js';
import { isOneShot, perRoundOf, type Scenario } from './scenario.js';
import { clientName, clientProfiles } from './population.js';
import { ShapedNetwork, shapingUnavailable, type LinkSpec } from './netns.js';
import { strategyEntry } from '@fednode/aggregator';
import type { RoundRecord, SimSummary } from './types.js';

/** Trainer processes unless asked for more: what a laptop runs without measuring itself. */
export const DEFAULT_REAL_TRAINERS = 16;
/** More trainer processes than this on one machine measure the machine, not the protocol. */
export const MAX_REAL_TRAINERS = 64;


export interface RealOptions {
  /** Where the run file, identities, data directories and logs go (wiped first: a stale checkpoint would be resumed). */
  readonly dir: string;
  readonly rounds?: number;
  readonly seed?: number;
  readonly label?: string;
  readonly onRound?: (r: RoundRecord) => void;
  /** Notes on what the real run does differently from the scenario. */
  readonly note?: (line: string) => void;
  /** onnxruntime intra-op threads per process. */
  readonly threads?: number;
  /** Fail when no new version appears for this long, seconds (default: the round deadline plus 120, or 600). */
  readonly stallS?: number;
  /** Trainer processes (default the shares, at most DEFAULT_REAL_TRAINERS; never more than the shares or MAX_REAL_TRAINERS). */
  readonly trainers?: number;
  /**
   * Each daemon in its own network namespace, the trainers' links shaped to the scenario's
   * uplink and downlink rates (see netns.ts; needs root). Bytes are then those the links
   * carried, IP headers and all.
   */
  readonly shaped?: boolean;
}

/** Port the aggregator listens on in its own namespace (nothing else is there to take it). */
const SHAPED_PORT = 4001;

/** The trainers' links as the scenario's population draws them (client i's for trainer i); the aggregator's is unshaped. */
export function shapedLinks(s: Scenario, trainers: number): LinkSpec[] {
  const mbps = (bytesPerS: number): number => (bytesPerS * 8) / 1e6;
  const profiles = clientProfiles(s).slice(0, trainers);
  return [{ name: 'aggregator', uplinkMbps: null, downlinkMbps: null }, ...profiles.map((p, i) => ({ name: `trainer-${i}`, uplinkMbps: mbps(p.uplinkBytesPerS), downlinkMbps: mbps(p.downlinkBytesPerS) }))];
}

/** A run id from a scenario name: the run file allows [A-Za-z0-9._-], 64 characters at most. */
export function runIdOf(name: string): string {
  const id = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (id === '' ? 'scenario' : id).slice(0, 64);
}

/** How many trainer processes the scenario gets. */
export function trainerCount(s: Scenario, requested?: number): number {
  if (requested === undefined) return Math.min(s.data.shares, DEFAULT_REAL_TRAINERS);
  if (!Number.isInteger(requested) || requested < 1) throw new SimError('SIM_SCENARIO', `--trainers ${requested}: expected a whole number >= 1`);
  if (requested > s.data.shares) throw new SimError('SIM_SCENARIO', `--trainers ${requested}: ${s.run} has ${s.data.shares} shares, one per trainer`);
  if (requested > MAX_REAL_TRAINERS) throw new SimError('SIM_SCENARIO', `--trainers ${requested}: at most ${MAX_REAL_TRAINERS} trainer processes on one machine`);
  return requested;
}

/**
 * The scenario itself as the daemons read it (they ignore the population and the simulator's
 * sections): the same task, data, shares, slices, codec, local training and rounds. Only what
 * belongs to this machine is set: who may join (the generated identities), where the
 * aggregator listens, and the strategy's cohort fitted to the trainer processes there are.
 * `notes` says what the real run cannot reproduce.
 */
export function realRunDocument(s: Scenario, o: { trainers: number; allow: readonly string[]; aggregator: string; threads?: number; shaped?: boolean }): { run: RunFile; document: Record<string, unknown>; notes: string[] } {
  const notes: string[] = [];
  const n = o.trainers;
  const st = s.strategy;
  if (isOneShot(st)) throw new SimError('SIM_SCENARIO', `--real does not run the simulator's one-shot comparison (${s.run} merges with every method at once); a oneshot run document with strategy.method and deadlineS runs on daemons with fednode start`);
  if (s.data.shares > n) notes.push(`${s.data.shares} clients capped at ${n} trainer processes: shares 0..${n - 1} of ${s.data.shares} take part`);
  const fitted = strategyEntry(st.kind).forTrainers(st, { trainers: n, perEpoch: perRoundOf(s) });
  notes.push(...fitted.notes);
  const p = s.population;
  const ignored = [
    p.attackers === undefined ? null : 'population.attackers',
    p.availability === undefined ? null : 'population.availability',
    p.dropout === undefined ? null : 'population.dropout',
    s.timeBudgetS === undefined ? null : 'timeBudgetS',
    (s.evalEvery ?? 1) === 1 ? null : 'evalEvery (every version is evaluated)',
  ].filter((x): x is string => x !== null);
  const machine = o.shaped === true ? "client speeds are the machine's own, links shaped to the scenario's rates, latency not applied" : "client speeds and links are the machine's own";
  notes.push(`${machine}${ignored.length > 0 ? `; not applied: ${ignored.join(', ')}` : ''}`);
  const doc = {
    ...s,
    run: runIdOf(s.run),
    strategy: fitted.section,
    // Short polls and linger unless the scenario says: everything is on one machine, and the run should end promptly.
    limits: { timeoutS: 30, pollS: 0.5, lingerS: 1, ...(s.limits ?? {}) },
    admission: { allow: [...o.allow] },
    network: { aggregator: o.aggregator, mdns: false },
    ...(o.threads === undefined ? {} : { threads: o.threads }),
  };
  const document = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  return { run: checkRunFile(document, `${s.run} as a run document`), document, notes };
}

type LogLine = { readonly t: string; readonly event: string } & Readonly<Record<string, unknown>>;

/** Each slice's accuracy and loss (by label) from the aggregator's last evaluation, as the simulator's summary has them. */
function bySliceOf(lines: readonly LogLine[]): { accuracy_by_slice: Record<string, number>; loss_by_slice: Record<string, number> } | undefined {
  const last = lines.filter((l) => l.event === 'version.evaluated').at(-1);
  if (last?.accuracy_by_slice === undefined) return undefined;
  return { accuracy_by_slice: last.accuracy_by_slice as Record<string, number>, loss_by_slice: (last.loss_by_slice ?? {}) as Record<string, number> };
}

function readLog(path: string): LogLine[] {
  if (!existsSync(path)) return [];
  const out: LogLine[] = [];
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as LogLine);
    } catch {
      // a line being written right now: read again at the next poll
    }
  }
  return out;
}

/** The built CLI: dist/cli.js next to this module, or the package's dist when running from src. */
function cliPath(): string {
  for (const rel of ['../cli.js', '../../dist/cli.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new SimError('SIM_RUN', '--real needs the built CLI (packages/node/dist/cli.js); build it first: npx tsc -b');
}

/** Each daemon's peak resident memory, MiB: the aggregator's, and the trainers' smallest, median, mean and largest. */
function daemonRss(peaks: ReadonlyMap<string, number>): NonNullable<SimSummary['daemon_rss_mb']> {
  const mb = (b: number) => Math.round(b / 2 ** 20);
  const trainers = [...peaks].filter(([name]) => name !== 'aggregator').map(([, b]) => b).sort((a, b) => a - b);
  return {
    aggregator: mb(peaks.get('aggregator') ?? 0),
    trainer_min: mb(trainers[0] ?? 0),
    trainer_median: mb(trainers[Math.floor(trainers.length / 2)] ?? 0),
    trainer_max: mb(trainers.at(-1) ?? 0),
    trainer_mean: trainers.length === 0 ? 0 : mb(trainers.reduce((a, b) => a + b, 0) / trainers.length),
  };
}

/**
 * A process's resident memory now and its peak so far (VmRSS, VmHWM), bytes (Linux); zeros
 * where /proc is not there or it has exited. The peak is the kernel's: no poll can miss it.
 */
function rssOf(pid: number | undefined): { now: number; peak: number } {
  if (pid === undefined) return { now: 0, peak: 0 };
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return { now: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return { now: 0, peak: 0 };
  }
}

/**
 * How the daemons run, dozens to a machine. A 2 MB semi-space (V8's default grows to 16 MB)
 * keeps the young generation that building the training graph fills from staying committed;
 * two malloc arenas (glibc's default is eight per core) keep the learner's worker thread and
 * onnxruntime from spreading over arenas of their own. Together about 30 MB less per trainer
 * with no step time we could measure; a 1 MB semi-space saved 8 MB more but slowed steps
 * (docs/daemon-memory.md). The aggregator takes no training steps, so it gets both savings
 * that cost trainers step time: a 1 MB semi-space, and large buffers mapped and unmapped on
 * their own (malloc's mmap threshold fixed at 128 KB) so that a freed update goes straight
 * back to the kernel. A variable already in the environment wins.
 */
const DAEMON_NODE_FLAGS = { trainer: ['--max-semi-space-size=2'], aggregator: ['--max-semi-space-size=1'] };
const DAEMON_ENV = { trainer: { MALLOC_ARENA_MAX: '2' }, aggregator: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' } };

/** One delivered update as its trainer's log tells it, times in seconds from its round's opening. */
export interface UpdateTiming {
  readonly version: number;
  readonly trainer: number;
  readonly received_s: number;
  readonly pushed_s: number;
  readonly train_s: number;
  readonly encode_s: number;
  readonly steps: number;
  readonly bytes: number;
  readonly parameters: number;
}

/** Each trainer's update of `round` (the one whose close made `version`): when its model came, how long it trained and encoded, when its push was acknowledged. */
function updateTimings(trainerLines: readonly LogLine[][], round: number, version: number, openedMs: number): UpdateTiming[] {
  const out: UpdateTiming[] = [];
  trainerLines.forEach((lines, trainer) => {
    const got = lines.find((l) => l.event === 'model.received' && l.round === round);
    const pushed = lines.find((l) => l.event === 'update.pushed' && l.round === round);
    if (got === undefined || pushed === undefined) return;
    out.push({
      version,
      trainer,
      received_s: (Date.parse(got.t) - openedMs) / 1000,
      pushed_s: (Date.parse(pushed.t) - openedMs) / 1000,
      train_s: pushed.train_s as number,
      encode_s: typeof pushed.encode_s === 'number' ? pushed.encode_s : 0,
      steps: typeof pushed.steps === 'number' ? pushed.steps : 0,
      bytes: pushed.bytes as number,
      parameters: got.parameters as number,
    });
  });
  return out;
}

interface Child {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  stderr: string;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  readonly exited: Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A timeout that does not keep the process alive once what it races against is settled. */
const grace = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/**
 * Runs the scenario on real daemons and returns what `simulate()` returns. Every child is
 * killed before this returns or throws, and on the parent's exit or SIGINT/SIGTERM.
 */
export async function simulateReal(scenario: Scenario, opts: RealOptions): Promise<{ summary: SimSummary; records: RoundRecord[]; updates: UpdateTiming[] }> {
  const s: Scenario = { ...scenario, seed: opts.seed ?? scenario.seed, rounds: opts.rounds ?? scenario.rounds };
  const wall0 = performance.now();
  const cli = cliPath();
  const n = trainerCount(s, opts.trainers);
  if (opts.shaped === true) {
    const why = shapingUnavailable();
    if (why !== null) throw new SimError('SIM_RUN', `--shaped: ${why}`);
  }
  // Refuse what cannot run before touching the directory or starting anything.
  realRunDocument(s, { trainers: n, allow: [], aggregator: '/ip4/127.0.0.1/tcp/1', threads: opts.threads });
  const dir = opts.dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'keys'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });

  const key = async (name: string): Promise<{ path: string; peerId: string }> => {
    const path = join(dir, 'keys', `${name}.key`);
    return { path, peerId: saveIdentity(path, await generateIdentity()) };
  };
  const agg = await key('aggregator');
  const trainers: { path: string; peerId: string }[] = [];
  for (let i = 0; i < n; i++) trainers.push(await key(`trainer-${i}`));
  // The links come up before the aggregator's address is known: with shaping, it is its namespace's.
  const net = opts.shaped === true ? await ShapedNetwork.create(shapedLinks(s, n)) : null;
  const host = net?.addrOf('aggregator') ?? '127.0.0.1';
  const port = net === null ? await freePort() : SHAPED_PORT;
  const aggAddr = `/ip4/${host}/tcp/${port}/p2p/${agg.peerId}`;
  const runPath = join(dir, 'run.yaml');
  try {
    const { document, notes } = realRunDocument(s, { trainers: n, allow: [agg.peerId, ...trainers.map((t) => t.peerId)], aggregator: aggAddr, threads: opts.threads, shaped: net !== null });
    for (const line of notes) opts.note?.(`--real: ${line}`);
    writeFileSync(runPath, stringify(document));
  } catch (e) {
    net?.removeSync();
    throw e;
  }

  const children: Child[] = [];
  const killAll = (): void => {
    for (const c of children) if (c.exit === null && c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  };
  // A parent that exits or is interrupted must not leave daemons behind.
  // (process.exit runs the exit listeners: the shaped links' removal among them.)
  const onSignal = (sig: NodeJS.Signals): void => {
    killAll();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', killAll);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const start = (name: string, args: string[]): Child => {
    const log = join(dir, 'logs', `${name}.log`);
    const role = name === 'aggregator' ? 'aggregator' : 'trainer';
    const argv = [process.execPath, ...DAEMON_NODE_FLAGS[role], cli, 'start', '--config', runPath, '--data-dir', join(dir, 'data', name), '--log', log, ...args];
    // `ip netns exec` enters the namespace and execs node: the child's pid is the daemon's.
    const env = { ...DAEMON_ENV[role], ...process.env };
    const child = net === null ? spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env }) : spawn('ip', ['netns', 'exec', net.nsOf(name), ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let resolveExit: () => void = () => undefined;
    const c: Child = { name, child, log, stderr: '', exit: null, exited: new Promise<void>((r) => (resolveExit = r)) };
    child.stderr?.on('data', (b: Buffer) => (c.stderr = (c.stderr + b.toString()).slice(-4000)));
    child.once('exit', (code, signal) => {
      c.exit = { code, signal };
      resolveExit();
    });
    child.once('error', (e) => {
      c.stderr += e.message;
      c.exit ??= { code: 1, signal: null };
      resolveExit();
    });
    children.push(c);
    return c;
  };
  const lastLine = (c: Child): string => c.stderr.trim().split('\n').at(-1) ?? '';

  const records: RoundRecord[] = [];
  let peakRss = 0;
  /** Each daemon's own peak: what one participant costs a machine. */
  const daemonPeak = new Map<string, number>();
  let trainTime = 0;
  const updates: UpdateTiming[] = [];
  let bySlice: ReturnType<typeof bySliceOf>;
  try {
    const a = start('aggregator', ['--role', 'aggregator', '--key', agg.path, '--listen', `/ip4/${host}/tcp/${port}`]);
    const listen = (name: string): string[] => (net === null ? [] : ['--listen', `/ip4/${net.addrOf(name)}/tcp/0`]);
    const ts = trainers.map((t, i) => start(`trainer-${i}`, ['--role', 'trainer', '--key', t.path, '--shard', String(i), '--name', clientName(i), ...listen(`trainer-${i}`)]));
    // Written at once: whoever kills this process with SIGKILL can still find the daemons.
    writeFileSync(join(dir, 'pids.json'), JSON.stringify({ aggregator: a.child.pid ?? null, trainers: ts.map((t) => t.child.pid ?? null), namespaces: net?.prefix ?? null }) + '\n');

    const deadlineS = isOneShot(s.strategy) ? undefined : strategyEntry(s.strategy.kind).waitS(s.strategy);
    const stallMs = (opts.stallS ?? (deadlineS === undefined ? 600 : deadlineS + 120)) * 1000;
    let lastProgress = Date.now();
    let emitted = 0;
    let t0: number | null = null;
    let prevCloseT = '';
    for (;;) {
      const aggExited = a.exit !== null;
      const lines = readLog(a.log);
      t0 ??= (() => {
        const first = lines.find((l) => l.event === 'round.opened');
        return first === undefined ? null : Date.parse(first.t);
      })();
      const closed = lines.filter((l) => l.event === 'round.closed');
      const evaluated = new Map(lines.filter((l) => l.event === 'version.evaluated').map((l) => [l.version as number, l]));
      const tLines = emitted < closed.length ? ts.map((t) => readLog(t.log)) : [];
      while (emitted < closed.length) {
        const c = closed[emitted];
        const version = c.version as number;
        const ev = evaluated.get(version);
        // Wait for the evaluation unless the aggregator is gone and it will never come.
        if (ev === undefined && !aggExited) break;
        const upTo = (l: LogLine): boolean => l.t <= c.t;
        const inRound = (l: LogLine): boolean => l.t > prevCloseT && l.t <= c.t;
        let bytesUp = 0;
        let bytesDown = 0;
        if (net !== null) {
          // What the shaped links carried by now (read at most a poll after the close).
          for (const b of (await net.bytes()).values()) {
            bytesUp += b.up;
            bytesDown += b.down;
          }
        }
        let dispatched = 0;
        let missed = 0;
        let roundTrain = 0;
        for (const tl of tLines) {
          for (const l of tl) {
            if (net === null && l.event === 'update.pushed' && upTo(l)) bytesUp += (l.bytes as number) + UPDATE_HEADER_BYTES;
            // Models travel dense fp32 (an estimate: the trainer logs the parameter count, not the bytes).
            if (net === null && l.event === 'model.received' && upTo(l)) bytesDown += (l.parameters as number) * 4 + MODEL_HEADER_BYTES;
            if (l.event === 'model.received' && inRound(l)) dispatched++;
            if (l.event === 'round.missed' && inRound(l)) missed++;
            // The round waits for its slowest trainer: that is its training time.
            if (l.event === 'update.pushed' && inRound(l)) roundTrain = Math.max(roundTrain, l.train_s as number);

          }
        }
        trainTime += roundTrain;
        const opened = lines.find((l) => l.event === 'round.opened' && l.round === c.round);
        if (opened !== undefined) updates.push(...updateTimings(tLines, c.round as number, version, Date.parse(opened.t)));
        const between = lines.filter(inRound);
        const rec: RoundRecord = {
          round: version - 1,
          version,
          virtual_time_s: t0 === null ? 0 : (Date.parse(c.t) - t0) / 1000,
          accuracy: ev === undefined ? null : (ev.accuracy as number),
          loss: ev === undefined ? null : (ev.loss as number),
          bytes_up: bytesUp,
          bytes_down: bytesDown,
          participants: Array.isArray(c.peers) ? c.peers.length : 0,
          dispatched,
          dropped: missed,
          late: between.filter((l) => l.event === 'update.dropped').length,
          refused: between.filter((l) => l.event === 'update.refused').length,
          attackers: 0,
          mean_staleness: typeof c.mean_staleness === 'number' ? c.mean_staleness : 0,
          wall_s: (performance.now() - wall0) / 1000,
        };
        prevCloseT = c.t;
        emitted++;
        lastProgress = Date.now();
        records.push(rec);
        opts.onRound?.(rec);
      }
      let total = rssOf(process.pid).now;
      for (const c of children) {
        const rss = rssOf(c.exit === null ? c.child.pid : undefined);
        total += rss.now;
        daemonPeak.set(c.name, Math.max(daemonPeak.get(c.name) ?? 0, rss.peak));
      }
      peakRss = Math.max(peakRss, total);
      if (aggExited && emitted >= closed.length) {
        if (a.exit?.code !== 0) throw new SimError('SIM_RUN', `--real: the aggregator exited with ${a.exit?.code ?? a.exit?.signal}: ${lastLine(a) || `see ${a.log}`}`);
        break;
      }
      const failed = ts.find((t) => t.exit !== null && t.exit.code !== 0);
      if (failed !== undefined) throw new SimError('SIM_RUN', `--real: ${failed.name} exited with ${failed.exit?.code ?? failed.exit?.signal}: ${lastLine(failed) || `see ${failed.log}`}`);
      if (Date.now() - lastProgress > stallMs) throw new SimError('SIM_RUN', `--real: no new version for ${Math.round(stallMs / 1000)} s; logs in ${join(dir, 'logs')}`);
      await sleep(250);
    }
    bySlice = bySliceOf(readLog(a.log));
    // Trainers stop once they hear the run is complete; a straggler is not worth waiting long for.
    await Promise.race([Promise.all(ts.map((t) => t.exited)), grace(10_000)]);
  } finally {
    killAll();
    await Promise.race([Promise.all(children.map((c) => c.exited)), grace(5000)]);
    net?.removeSync();
    process.removeListener('exit', killAll);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  const summary: SimSummary = {
    ...summarizeRun(s, opts, records, {
      bytesUp: records.at(-1)?.bytes_up ?? 0,
      bytesDown: records.at(-1)?.bytes_down ?? 0,
      clients: n,
      peakRssBytes: peakRss,
      trainMs: trainTime * 1000,
      wall0,
    }),
    ...(bySlice ?? {}),
    daemon_rss_mb: daemonRss(daemonPeak),
  };
  return { summary, records, updates };
}
