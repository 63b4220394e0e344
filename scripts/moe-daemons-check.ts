/**
 * #13's MoE acceptance with real processes: the run in scenarios/run-sotu-moe.yaml (1
 * aggregator, 4 trainer daemons on disjoint presidents, 2 of 4 experts each) against four
 * models trained alone, each on one trainer's presidents, with the same sub-network and the
 * same number of steps (rounds × local.steps, one uninterrupted run, so the baseline keeps its
 * optimiser state: the stricter comparison). Both are scored on the same held-out windows of
 * every president.
 *   node --import tsx scripts/moe-daemons-check.ts [scenarios/run-sotu-moe.yaml] [--rounds N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { extractSlice, resolveSlice, tasks } from '@fednode/core';
import { generateIdentity, saveIdentity } from '@fednode/node';

const CLI = fileURLToPath(new URL('../packages/node/dist/cli.js', import.meta.url));
const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--')) ?? 'scenarios/run-sotu-moe.yaml';
const roundsFlag = args.indexOf('--rounds');
const run = parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
  seed: number;
  rounds: number;
  task: { name: string; dataset: string; model: Record<string, number> };
  data: { shares: number; testRows: number; partition: tasks.PartitionSpec };
  slices: { capabilities: Record<string, { experts: number[] }> };
  local: { steps: number; batch: number; lr: number };
};
if (roundsFlag >= 0) run.rounds = Number(args[roundsFlag + 1]);
const caps = Object.keys(run.slices.capabilities);
const dir = mkdtempSync(join(tmpdir(), 'fednode-moe-check-'));
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function lines(log: string): Record<string, unknown>[] {
  try {
    return readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

async function federated(): Promise<{ accuracy: number; loss: number; curve: number[]; seconds: number }> {
  const key = async (name: string) => {
    const path = join(dir, `${name}.key`);
    return { path, peerId: saveIdentity(path, await generateIdentity()) };
  };
  const agg = await key('agg');
  const port = 40000 + Math.floor(Math.random() * 20000);
  const runPath = join(dir, 'run.yaml');
  writeFileSync(runPath, stringify({ ...run, network: { aggregator: `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`, mdns: false } }));
  const t0 = performance.now();
  const start = (name: string, extra: string[]): ChildProcess => {
    const c = spawn(process.execPath, [CLI, 'start', '--config', runPath, '--data-dir', join(dir, name), '--log', join(dir, `${name}.log`), ...extra], { stdio: 'ignore' });
    children.push(c);
    return c;
  };
  const a = start('agg', ['--role', 'aggregator', '--key', agg.path, '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
  for (let i = 0; i < caps.length; i++) start(`t${i}`, ['--role', 'trainer', '--key', (await key(`t${i}`)).path, '--shard', String(i), '--capability', caps[i]]);
  await new Promise<void>((resolve, reject) => {
    a.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the aggregator exited with ${code}; logs in ${dir}`))));
    const tick = setInterval(() => {
      const ev = lines(join(dir, 'agg.log')).filter((l) => l.event === 'version.evaluated');
      if (ev.length > 0) process.stdout.write(`\r  federated: version ${ev.at(-1)!.version}/${run.rounds}, held-out accuracy ${(ev.at(-1)!.accuracy as number).toFixed(4)}   `);
    }, 2000);
    a.once('exit', () => clearInterval(tick));
  });
  process.stdout.write('\n');
  const ev = lines(join(dir, 'agg.log')).filter((l) => l.event === 'version.evaluated');
  const last = ev.at(-1)!;
  return { accuracy: last.accuracy as number, loss: last.loss as number, curve: ev.map((l) => l.accuracy as number), seconds: (performance.now() - t0) / 1000 };
}

async function alone(i: number): Promise<{ accuracy: number; loss: number }> {
  const task = tasks.createTask(run.task.name, { dataset: run.task.dataset, model: run.task.model });
  const sub = task.subnet(run.slices.capabilities[caps[i]]);
  const init = task.initialParams(run.seed);
  const t = await tasks.createLearner(sub, { optimizer: { kind: 'adamw', weightDecay: 0.01 }, lr: run.local.lr, seed: run.seed, clipGradNorm: 1, threads: 2 });
  try {
    await t.setParams(extractSlice(init, resolveSlice(sub.slice!, init.specs)));
    const share = task.share(run.data.shares, i, run.data.partition, run.seed);
    await tasks.trainLocal(t, share, { budget: { steps: run.rounds * run.local.steps }, batch: run.local.batch, lr: run.local.lr, schedule: { kind: 'constant' }, seed: run.seed + i });
    return await tasks.evaluateOn(t, task, run.data.testRows);
  } finally {
    await t.close();
  }
}

const fed = await federated();
console.log(`federated (${caps.length} daemons, ${run.rounds} rounds x ${run.local.steps} steps): held-out accuracy ${fed.accuracy.toFixed(4)}, loss ${fed.loss.toFixed(4)}, ${fed.seconds.toFixed(0)} s; by version ${fed.curve.map((x) => x.toFixed(3)).join(' ')}`);
const solo: { accuracy: number; loss: number }[] = [];
for (let i = 0; i < caps.length; i++) {
  solo.push(await alone(i));
  console.log(`alone ${i} (${caps[i]}, ${run.rounds * run.local.steps} steps): held-out accuracy ${solo[i].accuracy.toFixed(4)}, loss ${solo[i].loss.toFixed(4)}`);
}
const mean = solo.reduce((s, r) => s + r.accuracy, 0) / solo.length;
console.log(`mean alone ${mean.toFixed(4)}; federated ${fed.accuracy.toFixed(4)}: ${fed.accuracy > mean ? 'the federated model wins' : 'the federated model does NOT win'}`);
process.exit(fed.accuracy > mean ? 0 : 1);
