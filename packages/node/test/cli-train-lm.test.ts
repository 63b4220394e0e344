import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSlice } from '../src/commands/train-lm.js';

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
  const r = spawnSync(process.execPath, [cli, 'train', '--model', 'moe-transformer', '--dataset', 'moby-dick', '--steps', '3', '--slice', 'experts=0,3', '--threads', '1', '--json'], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(out.model, 'moe-transformer');
  assert.equal(out.slice, 'experts=0,3');
  assert.equal(out.steps, 3);
  assert.ok(out.test_accuracy > 0 && out.test_accuracy < 1);
  assert.ok(Number.isFinite(out.test_loss) && out.tokens_per_second > 0);
  const bad = spawnSync(process.execPath, [cli, 'train', '--model', 'transformer', '--dataset', 'mnist'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /trains on text: use --dataset sotu or moby-dick/);
});
