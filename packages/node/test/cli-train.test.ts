import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

/**
 * `fednode train` as a user runs it: the package's bin (bin/fednode.js, which loads the built
 * dist/cli.js) in a child process. A quick run on
 * 4k MNIST rows with --json and --export; bad flags give one line on stderr and exit code 2.
 */

const cli = fileURLToPath(new URL('../bin/fednode.js', import.meta.url));

function fednode(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('fednode train --json: the last stdout line is the result object; --export writes a loadable ONNX file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-cli-'));
  try {
    const file = join(dir, 'mlp.onnx');
    const r = fednode('train', '--model', 'mlp', '--dataset', 'mnist', '--epochs', '2', '--limit', '4000', '--threads', '1', '--json', '--export', file);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
    for (const key of ['test_accuracy', 'test_loss', 'epochs', 'samples_per_second', 'wall_seconds', 'train_seconds']) assert.equal(typeof result[key], 'number', key);
    assert.equal(result.epochs, 2);
    assert.equal(result.train_samples, 8000);
    assert.ok((result.test_accuracy as number) > 0.85, `test accuracy ${result.test_accuracy}`);
    assert.equal(result.export, file);
    // The normalisation travels with the model: a user must standardise inputs the same way.
    for (const key of ['fednode.input_mean', 'fednode.input_std', 'fednode.task']) assert.ok(readFileSync(file).includes(key), key);
    const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)));
    assert.deepEqual(session.outputNames, ['logits']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fednode train: bad flags are one line on stderr and exit code 2', () => {
  for (const args of [
    ['train', '--epochs', '0'],
    ['train', '--model', 'resnet'],
    ['train', '--lr', 'fast'],
    ['train', '--bogus'],
    ['trian'],
  ]) {
    const r = fednode(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: status ${r.status}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0], /^fednode( train)?: /);
  }
});

test('fednode --help and train --help exit 0', () => {
  const r = fednode('train', '--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /--model <name>/);
  assert.match(r.stdout, /--json/);
});
