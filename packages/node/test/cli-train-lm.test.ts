import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, tasks } from '@fednode/core';
import { parseSlice } from '../src/commands/train-run.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

test('--slice: width, depth, heads and expert lists; bad specs are refused', () => {
  assert.deepEqual(parseSlice('width=0.5,depth=2'), { width: 0.5, depth: 2 });
  assert.deepEqual(parseSlice('experts=0,3'), { experts: [0, 3] });
  assert.deepEqual(parseSlice('heads=2, experts=1,2,3'), { heads: 2, experts: [1, 2, 3] });
  assert.throws(() => parseSlice('width=0.5,2'), /width takes one value/);
  assert.throws(() => parseSlice('colour=3'), /unknown key "colour"/);
  assert.throws(() => parseSlice('width=wide'), /cannot read/);
});

test('fednode train: a sliced MoE transformer on Moby-Dick trains and reports held-out next-char accuracy', () => {
  const r = spawnSync(process.execPath, [cli, 'train', '--model', 'moe-transformer', '--dataset', 'moby-dick', '--steps', '3', '--slice', 'experts=0,3', '--threads', '1', '--eval-limit', '128', '--json'], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(out.model, 'moe-transformer');
  assert.equal(out.slice, 'experts=0,3');
  assert.equal(out.steps, 3);
  assert.equal(out.test_examples, 128, '--eval-limit scores that many held-out windows');
  assert.ok(out.test_accuracy > 0 && out.test_accuracy < 1);
  assert.ok(Number.isFinite(out.test_loss) && out.tokens_per_second > 0);
  const bad = spawnSync(process.execPath, [cli, 'train', '--model', 'transformer', '--dataset', 'mnist'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--model transformer trains on sotu or moby-dick: use --dataset sotu/);
});

test('fednode train --model-size --out: the trained model as a checkpoint of those sizes that names its task (a run\'s initialModel)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-train-out-'));
  try {
    const file = join(dir, 'base.safetensors');
    const sizes = ['layers=1', 'dModel=32', 'heads=2', 'headDim=16', 'ffDim=64', 'seqLen=32'];
    const r = spawnSync(process.execPath, [cli, 'train', '--model', 'transformer', '--dataset', 'sotu', '--steps', '2', ...sizes.flatMap((s) => ['--model-size', s]), '--threads', '1', '--eval-limit', '64', '--out', file, '--json'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.trim().split('\n').at(-1)!).out, file);
    const ck = parseSafetensors(new Uint8Array(readFileSync(file)));
    const model = Object.fromEntries(sizes.map((s) => [s.split('=')[0], Number(s.split('=')[1])]));
    const want = tasks.createTask('transformer', { dataset: 'sotu', model }).specs;
    assert.deepEqual(ck.tensors.map((t) => [t.name, t.shape]), want.map((s) => [s.name, s.shape]));
    assert.equal(ck.metadata['fednode.task'], 'transformer');
    assert.deepEqual(JSON.parse(ck.metadata['fednode.model']), model);
    const sliced = spawnSync(process.execPath, [cli, 'train', '--model', 'transformer', '--dataset', 'sotu', '--slice', 'depth=1', '--out', file], { encoding: 'utf8' });
    assert.equal(sliced.status, 2);
    assert.match(sliced.stderr, /--out writes the whole model/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** ONNX's own checker (Debian's python3-onnx, for Debian's python), on a file; null when the package is not installed. */
function onnxCheck(file: string): { ok: boolean; out: string } | null {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print("ok")', file], { encoding: 'utf8' });
  if (r.error !== undefined || /No module named .?onnx/.test(r.stderr)) return null;
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

test('fednode train --slice and --export on every task: the exports pass ONNX\'s own checker; a flag that does not apply is refused', { timeout: 600_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-export-'));
  try {
    const runs: [string, string, string | null][] = [
      ['mlp', 'mnist', 'width=0.25'],
      ['mlp', 'fashion-mnist', null],
      ['cnn', 'mnist', null],
      ['transformer', 'sotu', 'width=0.5,depth=2'],
      ['moe-transformer', 'moby-dick', 'experts=1,2'],
    ];
    for (const [model, dataset, slice] of runs) {
      const file = join(dir, `${model}-${dataset}.onnx`);
      const budget = model === 'cnn' || model === 'mlp' ? ['--steps', '5', '--batch', '32'] : ['--steps', '2', '--batch', '4'];
      const r = spawnSync(process.execPath, [cli, 'train', '--model', model, '--dataset', dataset, ...budget, ...(slice === null ? [] : ['--slice', slice]), '--threads', '1', '--eval-limit', '64', '--json', '--export', file], { encoding: 'utf8', timeout: 300_000 });
      assert.equal(r.status, 0, `${model}: ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { export: string; slice: string | null; steps: number };
      assert.equal(out.export, file);
      assert.equal(out.slice, slice);
      assert.equal(out.steps, model === 'cnn' || model === 'mlp' ? 5 : 2);
      const checked = onnxCheck(file);
      if (checked === null) {
        t.diagnostic('python3-onnx is not installed: ONNX checker skipped (.ci/run installs it)');
        if (process.env.CI === 'true') assert.fail('CI must have python3-onnx');
      } else assert.ok(checked.ok, `${model} ${slice ?? ''}: ${checked.out}`);
    }
    for (const [args, message] of [
      [['--model', 'cnn', '--slice', 'width=0.5'], /width does not apply: cnn is trained whole/],
      [['--model', 'mlp', '--slice', 'experts=0,1'], /experts does not apply: mlp slices by width, depth/],
      [['--model', 'transformer', '--dataset', 'sotu', '--limit', '100'], /--limit cuts image rows; sotu is text/],
      [['--model', 'mlp', '--epochs', '1', '--steps', '3'], /give one budget/],
    ] as [string[], RegExp][]) {
      const r = spawnSync(process.execPath, [cli, 'train', ...args, '--json'], { encoding: 'utf8' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
