/**
 * The decentralised acceptance run: starts data.shares real `fednode start --role peer`
 * processes on 127.0.0.1 for a run file, waits for them to finish, and compares their
 * held-out loss with one process training the same model with AdamW on the union of their
 * data for the same number of steps, at the batch of one peer and at the batch of all
 * peers together. Prints one JSON object.
 *   node --import tsx scripts/decentral-check.ts scenarios/run-sotu-demo.yaml [--no-baseline] [--baseline-lrs 0.003,0.006]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tasks } from '@fednode/core';
import { loadPeerRunFile, peerTaskOf, startingParams, type PeerRunFile } from '@fednode/node';
import { readLog, type LogLine } from '../test/cluster.js';

const CLI = fileURLToPath(new URL('../packages/node/dist/cli.js', import.meta.url));
const file = process.argv[2];
const { run, baseDir } = loadPeerRunFile(file);
const n = run.data.shares;
const dir = mkdtempSync(join(tmpdir(), `fednode-check-${run.run}-`));
type Line = LogLine;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

async function waitFor<T>(log: string, find: (ls: Line[]) => T | undefined, ms: number): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const r = find(readLog(log));
    if (r !== undefined) return r;
    if (Date.now() > until) throw new Error(`timed out waiting on ${log}`);
    await sleep(250);
  }
}

// The shipped run files take their key from FEDNODE_PSK: a fresh one when none is set.
const psk = process.env.FEDNODE_PSK ?? randomBytes(32).toString('hex');

function start(i: number, bootstrap: string | null): string {
  const log = join(dir, `p${i}.log`);
  const args = [CLI, 'start', '--config', file, '--role', 'peer', '--shard', String(i), '--data-dir', join(dir, `p${i}`), '--log', log];
  if (bootstrap !== null) args.push('--bootstrap', bootstrap);
  children.push(spawn(process.execPath, args, { stdio: 'ignore', env: { ...process.env, FEDNODE_PSK: psk } }));
  return log;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const log0 = start(0, null);
  const started = await waitFor(log0, (ls) => ls.find((l) => l.event === 'node.started'), 60_000);
  const addr = (started.addrs as string[])[0];
  const logs = [log0, ...Array.from({ length: n - 1 }, (_, i) => start(i + 1, addr))];
  await Promise.all(logs.map((l) => waitFor(l, (ls) => ls.find((x) => x.event === 'peer.done'), 4 * 3600_000)));
  const wallS = (performance.now() - t0) / 1000;
  const lines = logs.map(readLog);
  const hashes = lines.map((ls) => new Map(ls.filter((l) => l.event === 'peer.hash').map((l) => [l.step as number, l.hash as string])));
  const checkpoints = [...hashes[0].keys()];
  const agreeing = checkpoints.filter((s) => hashes.every((h) => h.get(s) === hashes[0].get(s)));
  const steps = lines.map((ls) => ls.filter((l) => l.event === 'sync.step'));
  const dense = lines[0].find((l) => l.event === 'node.started')!.dense_bytes as number;
  const sent = steps.map((s) => s.reduce((a, r) => a + (r.bytes_sent as number), 0) / s.length);
  const inner = run.sync.algorithm === 'diloco' ? run.sync.diloco!.innerSteps : 1;
  const finals = lines.map((ls) => ls.filter((l) => l.event === 'peer.evaluated').at(-1)!);
  const result: Record<string, unknown> = {
    run: run.run,
    algorithm: run.sync.algorithm,
    peers: n,
    inner_steps: run.sync.steps,
    sync_steps: steps[0].length,
    wall_s: Math.round(wallS),
    heldout_loss: finals.map((f) => f.loss),
    heldout_accuracy: finals.map((f) => f.accuracy),
    curve_peer0: lines[0].filter((l) => l.event === 'peer.evaluated').map((l) => [l.step, l.loss]),
    checkpoints: checkpoints.length,
    checkpoints_all_agree: agreeing.length,
    contributors_min: Math.min(...steps.flat().map((r) => r.contributors as number)),
    dense_bytes_per_sync: dense,
    bytes_sent_per_sync: sent,
    bytes_sent_per_inner_step: sent.map((b) => b / inner),
    reduction_vs_dense_fp32: sent.map((b) => dense / b),
    logs: dir,
  };
  if (!process.argv.includes('--no-baseline')) {
    // Each baseline at every learning rate asked for (default: the peers' and twice it); the
    // best one is the one compared against, so the baseline is not handicapped by our choice.
    const at = process.argv.indexOf('--baseline-lrs');
    const lrs = at > 0 ? process.argv[at + 1].split(',').map(Number) : [run.sync.lr, 2 * run.sync.lr];
    const mean = finals.reduce((a, f) => a + (f.loss as number), 0) / n;
    for (const [name, batch] of [['adamw_same_batch_per_step', run.sync.batch], ['adamw_all_peers_batch', run.sync.batch * n]] as const) {
      const tried: { lr: number; heldout_loss: number; heldout_accuracy: number }[] = [];
      for (const lr of lrs) {
        const r = await adamwBaseline(run, batch, lr);
        tried.push({ lr, heldout_loss: r.loss, heldout_accuracy: r.accuracy });
      }
      const best = tried.reduce((a, b) => (b.heldout_loss < a.heldout_loss ? b : a));
      result[name] = { batch, tried, best_lr: best.lr, heldout_loss: best.heldout_loss, peers_vs_baseline: mean / best.heldout_loss - 1 };
    }
  }
  console.log(JSON.stringify(result, null, 1));
  process.exit(0);
}
/** One AdamW process on the union of the peers' data: the same task, steps and schedule. */
async function adamwBaseline(run: PeerRunFile, batch: number, lr: number): Promise<{ loss: number; accuracy: number }> {
  const task = peerTaskOf(run);
  const t = await tasks.createLearner(task.subnet(), { optimizer: { kind: 'adamw', weightDecay: 0.01 }, lr, seed: run.seed, clipGradNorm: 1, threads: 2 });
  try {
    // From the peers' own start: the run's initialModel when it has one.
    await t.setParams(startingParams(task, run.seed, run.initialModel, baseDir).params);
    const share = task.share(1, null, run.data.partition, run.seed);
    const schedule = { kind: 'cosine', warmupSteps: run.sync.warmupSteps ?? 0, minLrFraction: run.sync.minLrFraction ?? 0.1 } as const;
    await tasks.trainLocal(t, share, { budget: { steps: run.sync.steps }, batch, lr, schedule, seed: run.seed });
    return await t.evaluateBatches(task.testSet(run.data.evalSamples ?? 2048).batches());
  } finally {
    await t.close();
  }
}

void main();
