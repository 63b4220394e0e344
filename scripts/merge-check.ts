/**
 * The acceptance measurements of `fednode merge` (one-shot merging as a product), on real
 * data with step/epoch budgets. Each part trains its inputs with the tasks API, writes them as
 * safetensors checkpoints, and runs the built CLI (`packages/node/dist/cli.js merge`) on them:
 *   ties     5 MNIST MLPs from one initialisation on label-skewed shards (2 label shards each,
 *            2 epochs, batch 32, lr 0.02, seed 21 as scenarios/oneshot-merge.yaml): TIES against
 *            plain averaging.
 *   rebasin  two CNNs and two character transformers from different seeds on the same data:
 *            plain averaging against weight matching then averaging.
 *   moe      Branch-Train-MiX on SOTU: a dense base, 4 specialists (one per era: the presidents
 *            cut into 4 chronological groups), assembled into a mixture whose router is trained briefly
 *            (every expert on every token, the default top-k). Defaults (base 1500, specialists
 *            400, router 300 steps of 16): specialists 1.577–1.618 held-out loss, average 1.5464,
 *            mixture 1.5434; with --base-steps 4000 --expert-steps 800: specialists 1.291–1.370,
 *            average 1.2673, mixture 1.2626 (docs/merging.md: why top-2 lost, and the routing
 *            bounds; scripts/moe-probe.ts DIR splits the figures by era).
 *   node --import tsx scripts/merge-check.ts <ties|rebasin|moe|all> [--dir D] [--threads N]
 *     [--cnn-rows N] [--lm-steps N] [--base-steps N] [--expert-steps N] [--router-steps N]
 * Prints each CLI run's table and a JSON line of figures per part.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tasks, type ParamSet, type Task } from '@fednode/core';
import { META_SPEAKERS, eraShares, readCheckpoint, saveTaskCheckpoint, trainFrom } from '@fednode/node';

const CLI = fileURLToPath(new URL('../packages/node/dist/cli.js', import.meta.url));
const args = process.argv.slice(2);
const part = args[0] ?? 'all';
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(args[i + 1]);
};
const dirFlag = args.indexOf('--dir');
const dir = dirFlag < 0 ? '/tmp/fednode-merge-check' : args[dirFlag + 1];
const threads = flag('threads', 2);
mkdirSync(dir, { recursive: true });

/** The small character transformer the text parts use (the default one takes ~20 min to train on 2 cores). */
const LM = { seqLen: 64, dModel: 64, heads: 4, headDim: 16, ffDim: 256, layers: 2 };

function log(line: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

interface Row {
  label: string;
  accuracy: number;
  loss: number;
  role: string;
}

/** Runs `fednode merge ... --eval --json`, echoes its table, returns its summary. */
function merge(...argv: string[]): { evaluation: Row[]; router: unknown } {
  log(`fednode merge ${argv.join(' ')}`);
  const r = spawnSync(process.execPath, [CLI, 'merge', ...argv, '--eval', '--json', '--threads', String(threads)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`fednode merge failed (${r.status}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]) as { evaluation: Row[]; router: unknown };
  for (const row of summary.evaluation) process.stdout.write(`  ${row.label.padEnd(34)} accuracy ${row.accuracy.toFixed(4)}  loss ${row.loss.toFixed(4)}\n`);
  return summary;
}

async function checkpoint(path: string, task: Task, model: Record<string, number>, make: () => Promise<ParamSet> | ParamSet, extra: Record<string, string> = {}): Promise<string> {
  if (existsSync(path)) {
    log(`reusing ${path}`);
    return path;
  }
  const t0 = performance.now();
  saveTaskCheckpoint(path, task, model, await make(), extra);
  log(`wrote ${path} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  return path;
}

const progress = (what: string) => (done: number, total: number, loss: number): void => {
  if (done % 200 === 0 || done === total) log(`${what}: step ${done}/${total} loss ${loss.toFixed(4)}`);
};

async function tiesPart(): Promise<void> {
  const task = tasks.createTask('mlp', { dataset: 'mnist' });
  const seed = 21;
  const base = await checkpoint(join(dir, 'mlp-base.safetensors'), task, {}, () => task.initialParams(seed));
  const inputs: string[] = [];
  for (let i = 0; i < 5; i++) {
    const share = task.share(5, i, { kind: 'shards', perClient: 2 }, seed);
    inputs.push(
      await checkpoint(join(dir, `mlp-shard${i}.safetensors`), task, {}, () =>
        trainFrom(task, task.initialParams(seed), share, { budget: { epochs: 2 }, batch: 32, lr: 0.02, seed: seed + i, threads, onStep: progress(`mlp shard ${i}`) }),
      ),
    );
  }
  const ties = merge(...inputs, '--method', 'ties', '--base', base, '--density', '0.2', '--lambda', '1', '-o', join(dir, 'mlp-ties.safetensors'), '--onnx', join(dir, 'mlp-ties.onnx'));
  const avg = merge(...inputs, '--method', 'average', '-o', join(dir, 'mlp-average.safetensors'));
  const acc = (s: { evaluation: Row[] }, role: string) => s.evaluation.filter((r) => r.role === role).map((r) => r.accuracy);
  process.stdout.write(JSON.stringify({ part: 'ties', inputs: acc(ties, 'input'), ties: acc(ties, 'merge')[0], average: acc(avg, 'merge')[0] }) + '\n');
}

async function pairPart(name: string, task: Task, model: Record<string, number>, budget: tasks.TrainingBudget, share: tasks.DataShare): Promise<void> {
  const inputs: string[] = [];
  for (const seed of [1, 2]) {
    inputs.push(await checkpoint(join(dir, `${name}-seed${seed}.safetensors`), task, model, () => trainFrom(task, task.initialParams(seed), share, { budget, seed, threads, onStep: progress(`${name} seed ${seed}`) })));
  }
  const plain = merge(...inputs, '--method', 'average', '-o', join(dir, `${name}-average.safetensors`));
  const matched = merge(...inputs, '--method', 'average', '--align', '-o', join(dir, `${name}-matched.safetensors`), '--onnx', join(dir, `${name}-matched.onnx`));
  const m = (s: { evaluation: Row[] }) => s.evaluation.find((r) => r.role === 'merge')!;
  process.stdout.write(
    JSON.stringify({ part: `rebasin-${name}`, budget, inputs: plain.evaluation.filter((r) => r.role === 'input').map((r) => [r.accuracy, r.loss]), average: [m(plain).accuracy, m(plain).loss], matched: [m(matched).accuracy, m(matched).loss] }) + '\n',
  );
}

async function rebasinPart(): Promise<void> {
  const rows = flag('cnn-rows', 10000);
  const cnn = tasks.createTask('cnn', { dataset: 'mnist', trainRows: rows });
  await pairPart('cnn', cnn, {}, { epochs: 1 }, cnn.share(1, null, { kind: 'iid' }, 0));
  const lm = tasks.createTask('transformer', { dataset: 'sotu', model: LM });
  await pairPart('transformer', lm, LM, { steps: flag('lm-steps', 600) }, lm.share(1, null, { kind: 'iid' }, 0));
}

async function moePart(): Promise<void> {
  const task = tasks.createTask('transformer', { dataset: 'sotu', model: LM });
  const baseSteps = flag('base-steps', 1500);
  const expertSteps = flag('expert-steps', 400);
  const base = await checkpoint(join(dir, 'sotu-base.safetensors'), task, LM, () =>
    trainFrom(task, task.initialParams(7), task.share(1, null, { kind: 'iid' }, 0), { budget: { steps: baseSteps }, seed: 7, threads, onStep: progress('dense base') }),
  );
  const baseParams = readCheckpoint(base).params;
  const experts: string[] = [];
  const eras = eraShares(task, 4);
  for (let i = 0; i < 4; i++) {
    const { share, speakers } = eras[i];
    log(`specialist ${i}: ${share.description}`);
    experts.push(
      await checkpoint(join(dir, `sotu-expert${i}.safetensors`), task, LM, () =>
        trainFrom(task, baseParams, share, { budget: { steps: expertSteps }, seed: 100 + i, threads, onStep: progress(`specialist ${i}`) }),
      { [META_SPEAKERS]: JSON.stringify(speakers) },
      ),
    );
  }
  const routerSteps = flag('router-steps', 300);
  const s = merge(...experts, '--method', 'moe', '--router-steps', String(routerSteps), '--router-batch', '16', '--router-lr', '0.01', '-o', join(dir, 'sotu-moe.safetensors'), '--onnx', join(dir, 'sotu-moe.onnx'));
  const by = (role: string) => s.evaluation.filter((r) => r.role === role).map((r) => [r.accuracy, r.loss]);
  process.stdout.write(JSON.stringify({ part: 'moe', baseSteps, expertSteps, router: s.router, specialists: by('input'), average: by('reference')[0], moe: by('merge')[0] }) + '\n');
}

if (part === 'ties' || part === 'all') await tiesPart();
if (part === 'rebasin' || part === 'all') await rebasinPart();
if (part === 'moe' || part === 'all') await moePart();
