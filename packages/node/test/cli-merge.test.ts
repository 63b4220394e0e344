import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ties } from '@fednode/aggregator';
import { tasks, type ParamSet } from '@fednode/core';
import { readCheckpoint, taskMetadata, writeCheckpoint } from '../src/merge/checkpoint-file.js';
import { saveTaskCheckpoint, trainFrom } from '../src/merge/train-checkpoint.js';

/**
 * `fednode merge` as a user runs it (the package's bin in a child process), on checkpoints of
 * MNIST MLPs trained here with the tasks API: TIES against plain averaging on label-skewed
 * shards, weight matching for two initialisations, the recipe file, the merged file read by an
 * independent reader (numpy) and its ONNX export checked by ONNX's own checker, and one-line
 * errors for mismatched inputs.
 */

const cli = fileURLToPath(new URL('../bin/fednode.js', import.meta.url));
const reader = fileURLToPath(new URL('../../core/test/fixtures/read_safetensors.py', import.meta.url));

function fednode(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Summary {
  evaluation: { label: string; accuracy: number; loss: number; role: string }[];
  output: string;
  router: { steps: number; examples: number } | null;
}

function summary(r: { status: number | null; stdout: string; stderr: string }): Summary {
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Summary;
}

/** Debian's python3 with numpy and python3-onnx (what .ci/run installs); null when absent. */
function python(args: string[]): { ok: boolean; out: string } | null {
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error !== undefined || /No module named/.test(r.stderr)) return null;
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

const MODEL = { hidden: 64 };
const task = tasks.createTask('mlp', { dataset: 'mnist', trainRows: 6000, model: MODEL });
const dir = mkdtempSync(join(tmpdir(), 'fednode-merge-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Base and 5 label-skewed specialists (2 label shards each), one epoch from one initialisation. */
const shardModels = (async () => {
  const init = task.initialParams(21);
  const base = join(dir, 'base.safetensors');
  saveTaskCheckpoint(base, task, MODEL, init);
  const paths: string[] = [];
  const params: ParamSet[] = [];
  for (let i = 0; i < 5; i++) {
    const p = await trainFrom(task, init, task.share(5, i, { kind: 'shards', perClient: 2 }, 21), { budget: { epochs: 1 }, batch: 32, lr: 0.02, seed: 30 + i });
    paths.push(join(dir, `shard${i}.safetensors`));
    saveTaskCheckpoint(paths[i], task, MODEL, p);
    params.push(p);
  }
  return { base, init, paths, params };
})();

test('fednode merge --method ties: beats plain averaging on label-skewed shards; the table gives every input, the average and the merge', async (t) => {
  const { base, init, paths, params } = await shardModels;
  const out = join(dir, 'ties.safetensors');
  const onnx = join(dir, 'ties.onnx');
  const s = summary(fednode('merge', ...paths, '--method', 'ties', '--base', base, '--density', '0.2', '--lambda', '1', '-o', out, '--onnx', onnx, '--eval', '--eval-limit', '2000', '--json', '--threads', '1'));
  assert.deepEqual(s.evaluation.map((r) => r.role), ['input', 'input', 'input', 'input', 'input', 'reference', 'merge']);
  const merged = s.evaluation[6];
  const average = s.evaluation[5];
  assert.ok(merged.accuracy > average.accuracy + 0.02, `TIES ${merged.accuracy} against average ${average.accuracy}`);
  for (const r of s.evaluation.slice(0, 5)) assert.ok(merged.accuracy > r.accuracy, `TIES ${merged.accuracy} against ${r.label} ${r.accuracy}`);

  // The file holds exactly the library's TIES merge, and its metadata the recipe.
  const file = readCheckpoint(out);
  assert.deepEqual(file.params.data, ties(init, params, { density: 0.2, lambda: 1 }).data);
  const recipe = JSON.parse(file.metadata['fednode.merge.recipe']) as { method: string; inputs: { sha256: string }[]; options: Record<string, number> };
  assert.equal(recipe.method, 'ties');
  assert.deepEqual(recipe.options, { density: 0.2, lambda: 1 });
  assert.deepEqual(recipe.inputs.map((i) => i.sha256), paths.map((p) => readCheckpoint(p).sha256));
  assert.equal(file.metadata['fednode.task'], 'mlp');

  const read = python([reader, out, '--aligned']);
  const checked = python(['-c', 'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print("ok")', onnx]);
  if (read === null || checked === null) {
    t.diagnostic('Debian python3 with numpy and onnx is not installed: independent reader and ONNX checker skipped');
    if (process.env.CI === 'true') assert.fail('CI must have python3-numpy and python3-onnx');
    return;
  }
  assert.ok(read.ok, read.out);
  const seen = JSON.parse(read.out) as Record<string, { dtype: string; shape: number[]; values: number[] }> & { __metadata__: Record<string, string> };
  assert.equal(seen.__metadata__['fednode.merge.method'], 'ties');
  for (const spec of file.params.specs) {
    assert.deepEqual(seen[spec.name].shape, spec.shape);
    assert.deepEqual(Float32Array.from(seen[spec.name].values), file.params.tensor(spec.name));
  }
  assert.ok(checked.ok, checked.out);
});

test('fednode merge --recipe: a YAML recipe gives the same file as the same merge from flags', async () => {
  const { base, paths } = await shardModels;
  const yaml = join(dir, 'recipe.yaml');
  writeFileSync(
    yaml,
    ['method: task-arithmetic', 'base: base.safetensors', 'inputs:', ...paths.map((p, i) => `  - { path: ${p.split('/').pop()}, weight: ${i + 1} }`), 'options: { lambda: 0.3 }', 'output: ta-recipe.safetensors', ''].join('\n'),
  );
  assert.equal(fednode('merge', '--recipe', yaml).status, 0);
  const flags = fednode('merge', ...paths, '--method', 'task-arithmetic', '--base', base, '--weights', '1,2,3,4,5', '--lambda', '0.3', '-o', join(dir, 'ta-flags.safetensors'));
  assert.equal(flags.status, 0, flags.stderr);
  const a = readCheckpoint(join(dir, 'ta-recipe.safetensors'));
  const b = readCheckpoint(join(dir, 'ta-flags.safetensors'));
  assert.deepEqual(a.params.data, b.params.data);
  assert.notDeepEqual(a.params.data, readCheckpoint(paths[0]).params.data);
  assert.equal(a.metadata['fednode.merge.recipe'], b.metadata['fednode.merge.recipe']);
});

test('fednode merge --align: two MLPs from different seeds merge better after weight matching', async () => {
  const share = task.share(1, null, { kind: 'iid' }, 0);
  const paths = [];
  for (const seed of [1, 2]) {
    const p = await trainFrom(task, task.initialParams(seed), share, { budget: { epochs: 1 }, seed });
    paths.push(join(dir, `seed${seed}.safetensors`));
    saveTaskCheckpoint(paths[paths.length - 1], task, MODEL, p);
  }
  const plain = summary(fednode('merge', ...paths, '--method', 'average', '--eval', '--eval-limit', '2000', '--json', '--threads', '1'));
  const matched = summary(fednode('merge', ...paths, '--method', 'average', '--align', '--eval', '--eval-limit', '2000', '--json', '--threads', '1'));
  const acc = (s: Summary): number => s.evaluation[s.evaluation.length - 1].accuracy;
  assert.ok(acc(matched) > acc(plain) + 0.05, `weight-matched ${acc(matched)} against plain ${acc(plain)}`);
});

test('fednode merge: mismatched names, shapes, dtypes or tasks and bad recipes are one line on stderr', async () => {
  const { base, paths, params } = await shardModels;
  const narrow = tasks.createTask('mlp', { dataset: 'mnist', model: { hidden: 32 } });
  const other = join(dir, 'narrow.safetensors');
  saveTaskCheckpoint(other, narrow, { hidden: 32 }, narrow.initialParams(1));
  const f16 = join(dir, 'f16.safetensors');
  writeCheckpoint(f16, params[1], taskMetadata(task, MODEL), 'F16');
  const fashion = join(dir, 'fashion.safetensors');
  writeCheckpoint(fashion, params[1], { ...taskMetadata(task, MODEL), 'fednode.dataset': 'fashion-mnist' });
  const renamed = join(dir, 'renamed.safetensors');
  const { ParamSet } = await import('@fednode/core');
  writeCheckpoint(renamed, ParamSet.fromTensors(params[1].specs.map((s) => ({ name: s.name.replace('head', 'out'), shape: s.shape, data: params[1].tensor(s.name) }))), {});
  // Files from elsewhere: the same tensors without fednode's metadata.
  const bare = [0, 1].map((i) => {
    const path = join(dir, `bare${i}.safetensors`);
    writeCheckpoint(path, params[i], {});
    return path;
  });
  const named = summary(fednode('merge', ...bare, '--method', 'average', '--task', 'mlp', '--model-size', 'hidden=64', '--eval', '--eval-limit', '500', '--json', '--threads', '1'));
  assert.equal(named.evaluation.length, 3);
  for (const [args, status, pattern] of [
    [[paths[0], other, '--method', 'average', '--eval'], 1, /tensor "fc1.weight" is \[32, 784\] in narrow.safetensors but \[64, 784\]/],
    [[paths[0], f16, '--method', 'average', '--eval'], 1, /f16.safetensors stores F16 but shard0.safetensors stores F32/],
    [[paths[0], fashion, '--method', 'average', '--eval'], 1, /different tasks/],
    [[paths[0], renamed, '--method', 'average', '--eval'], 1, /renamed.safetensors has no tensor "head.weight"/],
    [[paths[0], paths[1], '--method', 'ties', '--eval'], 1, /give base/],
    [[paths[0], paths[1], '--method', 'average', '--density', '0.5', '--eval'], 1, /options: unknown key "density"/],
    [[paths[0], paths[1], '--method', 'ties', '--base', base, '--density', '2', '--eval'], 1, /options.density: must be <= 1/],
    [[paths[0], paths[1], '--method', 'average'], 2, /nothing to do/],
    [[paths[0], paths[1], '--method', 'blend', '--eval'], 2, /argument 'blend' is invalid/],
    [[paths[0], join(dir, 'missing.safetensors'), '--method', 'average', '--eval'], 1, /cannot read checkpoint .*missing.safetensors: ENOENT/],
    [[bare[0], bare[1], '--method', 'average', '--eval'], 1, /names no task and its layout is none of the registered tasks/],
  ] as const) {
    const r = fednode('merge', ...args);
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    const last = lines[lines.length - 1];
    assert.match(last, /^fednode( merge)?: /, r.stderr);
    assert.match(last, pattern);
  }
});
