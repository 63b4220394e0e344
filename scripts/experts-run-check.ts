/**
 * #16's expert assembly as a one-shot run with real processes: `fednode train --out` makes the
 * dense base, then scenarios/run-sotu-experts.yaml runs (1 aggregator, 4 trainer daemons, each
 * specialising the base on one era of presidents), and the aggregator's `oneshot.merged` line
 * gives the mixture's held-out loss beside each specialist's and their plain average's, all on
 * the same held-out windows of every president.
 *   node --import tsx scripts/experts-run-check.ts [--dir D] [--base-steps N] [--expert-steps N] [--router-steps N]
 * Only the built CLI is used (npm run build first).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const CLI = fileURLToPath(new URL('../packages/node/dist/cli.js', import.meta.url));
const SCENARIO = fileURLToPath(new URL('../scenarios/run-sotu-experts.yaml', import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
};
const dir = flag('dir') === undefined ? mkdtempSync(join(tmpdir(), 'fednode-experts-')) : resolve(flag('dir')!);
mkdirSync(dir, { recursive: true });
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

type Run = Record<string, unknown> & {
  task: { model: Record<string, number> };
  data: { shares: number };
  strategy: { method: Record<string, unknown> };
  local: { steps: number };
};
const run = parse(readFileSync(SCENARIO, 'utf8')) as Run;
if (flag('expert-steps') !== undefined) run.local.steps = Number(flag('expert-steps'));
if (flag('router-steps') !== undefined) run.strategy.method.routerSteps = Number(flag('router-steps'));
const baseSteps = Number(flag('base-steps') ?? 1500);

function lines(log: string): Record<string, unknown>[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const t0 = performance.now();
const base = join(dir, `base-${baseSteps}.safetensors`);
if (!existsSync(base)) {
  process.stdout.write(`training the dense base (${baseSteps} steps) into ${base}\n`);
  const sizes = Object.entries(run.task.model).flatMap(([k, v]) => ['--model-size', `${k}=${v}`]);
  const r = spawnSync(process.execPath, [CLI, 'train', '--model', 'transformer', '--dataset', 'sotu', '--steps', String(baseSteps), ...sizes, '--threads', '2', '--eval-limit', '4096', '--seed', '7', '--out', base, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`fednode train exited with ${r.status}`);
  const t = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { test_loss: number };
  process.stdout.write(`dense base: held-out loss ${t.test_loss}\n`);
}

const key = (name: string): { path: string; peerId: string } => {
  const path = join(dir, `${name}.key`);
  const r = spawnSync(process.execPath, [CLI, 'keygen', '--out', path, '--force'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return { path, peerId: r.stdout.trim().split(/\s+/).at(-1)! };
};
const agg = key('agg');
const port = 40000 + Math.floor(Math.random() * 20000);
const runPath = join(dir, 'run.yaml');
writeFileSync(runPath, stringify({ ...run, initialModel: base, network: { aggregator: `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`, mdns: false } }));
const start = (name: string, extra: string[]): ChildProcess => {
  const c = spawn(process.execPath, [CLI, 'start', '--config', runPath, '--data-dir', join(dir, `${name}-${Date.now()}`), '--log', join(dir, `${name}.log`), ...extra], { stdio: 'ignore' });
  children.push(c);
  return c;
};
const aggLog = join(dir, 'agg.log');
const a = start('agg', ['--role', 'aggregator', '--key', agg.path, '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
for (let i = 0; i < run.data.shares; i++) start(`t${i}`, ['--role', 'trainer', '--key', key(`t${i}`).path, '--shard', String(i)]);
await new Promise<void>((done, fail) => {
  const tick = setInterval(() => {
    const last = lines(aggLog).filter((l) => l.event === 'update.accepted' || l.event === 'oneshot.assembling').at(-1);
    if (last !== undefined) process.stdout.write(`\r  ${last.event === 'update.accepted' ? `specialists received: ${lines(aggLog).filter((l) => l.event === 'update.accepted').length}` : String(last.progress)}        `);
  }, 5000);
  a.once('exit', (code) => {
    clearInterval(tick);
    if (code === 0) done();
    else fail(new Error(`the aggregator exited with ${code}; logs in ${dir}`));
  });
});
process.stdout.write('\n');
const ls = lines(aggLog);
const merged = ls.find((l) => l.event === 'oneshot.merged')!;
const assembled = ls.find((l) => l.event === 'oneshot.assembled')!;
const compared = merged.compared_loss as Record<string, number>;
const specialists = (merged.participants as string[]).map((p) => compared[p]);
process.stdout.write(
  JSON.stringify({
    baseSteps,
    expertSteps: run.local.steps,
    router: { steps: assembled.router_steps, batch: assembled.router_batch, lr: assembled.router_lr, firstLoss: assembled.router_first_loss, lastLoss: assembled.router_last_loss },
    mixture: merged.loss,
    average: compared.average,
    specialists,
    beatsAverage: (merged.loss as number) < compared.average,
    beatsEachSpecialist: specialists.every((s) => (merged.loss as number) < s),
    seconds: Math.round((performance.now() - t0) / 1000),
    dir,
  }) + '\n',
);
