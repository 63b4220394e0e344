import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParamSet, encodeSafetensorsBytes, paramSetToSafetensors, tasks } from '@fednode/core';
import { startingParams } from '@fednode/node';

const TINY = { seqLen: 16, dModel: 16, heads: 2, headDim: 8, ffDim: 32, layers: 1 };

test('startingParams: the seeded initialisation without a file; a checkpoint in any tensor order read exactly; wrong layouts, NaN and missing files refused by path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-initial-'));
  try {
    const task = tasks.createTask('transformer', { dataset: 'sotu', model: TINY });
    const seeded = startingParams(task, 5, undefined, dir);
    assert.equal(seeded.source, 'seed 5');
    assert.deepEqual(seeded.params.data, task.initialParams(5).data);

    const other = task.initialParams(9);
    // Stored in reverse order: the reader places tensors by name.
    const reversed = ParamSet.fromTensors([...other.specs].reverse().map((s) => ({ name: s.name, shape: [...s.shape], data: other.tensor(s.name) })));
    writeFileSync(join(dir, 'base.safetensors'), encodeSafetensorsBytes(paramSetToSafetensors(reversed)));
    const read = startingParams(task, 5, 'base.safetensors', dir);
    assert.equal(read.source, join(dir, 'base.safetensors'));
    assert.deepEqual(read.params.data, other.data);

    const bigger = tasks.createTask('transformer', { dataset: 'sotu', model: { ...TINY, dModel: 32, headDim: 16 } });
    writeFileSync(join(dir, 'bigger.safetensors'), encodeSafetensorsBytes(paramSetToSafetensors(bigger.initialParams(1))));
    assert.throws(() => startingParams(task, 5, 'bigger.safetensors', dir), (e: Error) => e.message.includes(join(dir, 'bigger.safetensors')) && /is \[98, 32\] in bigger.safetensors but \[98, 16\]/.test(e.message));

    const nan = task.initialParams(1);
    nan.data[3] = Number.NaN;
    writeFileSync(join(dir, 'nan.safetensors'), encodeSafetensorsBytes(paramSetToSafetensors(nan)));
    assert.throws(() => startingParams(task, 5, 'nan.safetensors', dir), /nan\.safetensors: it holds NaN or Infinity/);
    assert.throws(() => startingParams(task, 5, 'absent.safetensors', dir), /initialModel .*absent\.safetensors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
