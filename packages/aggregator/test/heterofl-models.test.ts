import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet, extractSlice, models, resolveSlice } from '@fednode/core';
import { FedAvg } from '../src/index.js';

// The models' HeteroFL width selection, aggregated by FedAvg: spec 6's vector end to end.
test('spec 6 HeteroFL aggregation through FedAvg (uniform): A = arange(16), B (r = ½) sends 100s → top-left [[50, 50.5], [52, 52.5]]', () => {
  const specs = [{ name: 'w', shape: [4, 4] }];
  const a = ParamSet.fromTensors([{ name: 'w', shape: [4, 4], data: Array.from({ length: 16 }, (_, i) => i) }]);
  const half = models.selectUnits(4, models.unitsFor(4, 0.5));
  const full = resolveSlice({ tensors: [{ name: 'w', axes: [{ kind: 'all' }, { kind: 'all' }] }] }, specs);
  const part = resolveSlice({ tensors: [{ name: 'w', axes: [half, half] }] }, specs);
  const f = new FedAvg(a, { weighting: 'uniform' });
  // Client A returns A itself (a zero delta); client B returns 100s over its block.
  const deltaA = extractSlice(a, full).zerosLike();
  const deltaB = extractSlice(a, part);
  for (let i = 0; i < deltaB.data.length; i++) deltaB.data[i] = 100 - deltaB.data[i];
  assert.deepEqual(f.offer({ sender: 'A', round: 0, baseVersion: 0, examples: 1, resolved: full, delta: deltaA }), { accepted: true });
  assert.deepEqual(f.offer({ sender: 'B', round: 0, baseVersion: 0, examples: 1, resolved: part, delta: deltaB }), { accepted: true });
  const w = Array.from(f.aggregate().params.tensor('w'));
  const want = Array.from({ length: 16 }, (_, i) => i);
  [want[0], want[1], want[4], want[5]] = [50, 50.5, 52, 52.5];
  assert.deepEqual(w, want);
});

