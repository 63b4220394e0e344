import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreError, ParamSet, extractSlice, fullSlice, resolveSlice, scatterSlice, sliceCoverage, type Slice } from '../src/index.js';

function expectCode(fn: () => unknown, code: string, field?: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof CoreError && e.code === code && (field === undefined || field.test(e.message)));
}

const specs = [
  { name: 'w', shape: [4, 4] },
  { name: 'b', shape: [4] },
  { name: 'experts', shape: [3, 2, 2] },
];

function arange(): ParamSet {
  const p = ParamSet.zeros(specs);
  p.data.forEach((_, i) => (p.data[i] = i));
  return p;
}

test('ParamSet: one contiguous buffer with named views', () => {
  const p = arange();
  assert.equal(p.size, 16 + 4 + 12);
  assert.equal(p.offsetOf('b'), 16);
  p.tensor('b')[0] = -1;
  assert.equal(p.data[16], -1, 'a tensor is a view into data');
  assert.ok(p.clone().sameLayout(p));
  expectCode(() => p.tensor('nope'), 'PARAMS_LAYOUT');
  expectCode(() => ParamSet.zeros([{ name: 'a', shape: [2] }, { name: 'a', shape: [3] }]), 'PARAMS_LAYOUT');
  expectCode(() => ParamSet.zeros([{ name: 'a', shape: [0] }]), 'PARAMS_LAYOUT');
  expectCode(() => ParamSet.wrap(specs, new Float32Array(3)), 'PARAMS_LAYOUT');
});

test('slice: HeteroFL leading rows/columns, extract and scatter back', () => {
  const g = arange();
  const slice: Slice = {
    tensors: [
      { name: 'w', axes: [{ kind: 'range', start: 0, end: 2 }, { kind: 'range', start: 0, end: 2 }] },
      { name: 'b', axes: [{ kind: 'range', start: 0, end: 2 }] },
    ],
  };
  const r = resolveSlice(slice, specs);
  assert.deepEqual(r.localSpecs, [{ name: 'w', shape: [2, 2] }, { name: 'b', shape: [2] }]);
  const local = extractSlice(g, r);
  assert.deepEqual([...local.tensor('w')], [0, 1, 4, 5]);
  assert.deepEqual([...local.tensor('b')], [16, 17]);
  local.data.fill(100);
  const g2 = g.clone();
  scatterSlice(local, r, g2);
  assert.deepEqual([...g2.tensor('w')], [100, 100, 2, 3, 100, 100, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  assert.deepEqual([...g2.tensor('experts')], [...g.tensor('experts')], 'tensors outside the slice are untouched');
  assert.deepEqual([...sliceCoverage(r, g)], [0, 1, 4, 5, 16, 17]);
});

test('slice: FedRolex rolling windows wrap around (spec 6: K = 4, beta = 1/2)', () => {
  const windows = [0, 1, 2, 3].map((r) => {
    const res = resolveSlice({ tensors: [{ name: 'b', axes: [{ kind: 'window', start: r, length: 2 }] }] }, specs);
    return [...res.tensors[0].indexMap];
  });
  assert.deepEqual(windows, [[0, 1], [1, 2], [2, 3], [3, 0]]);
  const counts = [0, 0, 0, 0];
  for (const w of windows) for (const i of w) counts[i]++;
  assert.deepEqual(counts, [2, 2, 2, 2], 'each channel trained twice in 4 rounds');
});

test('slice: experts by index list on the leading axis; full slice is whole', () => {
  const g = arange();
  const r = resolveSlice({ tensors: [{ name: 'experts', axes: [{ kind: 'indices', indices: [2, 0] }, { kind: 'all' }, { kind: 'all' }] }] }, specs);
  assert.deepEqual(r.localSpecs[0].shape, [2, 2, 2]);
  assert.deepEqual([...extractSlice(g, r).tensor('experts')], [28, 29, 30, 31, 20, 21, 22, 23]);
  const full = resolveSlice(fullSlice(specs), specs);
  assert.ok(full.tensors.every((t) => t.whole));
  assert.deepEqual(extractSlice(g, full).data, g.data);
});

test('slice: invalid slices are refused naming the field', () => {
  expectCode(() => resolveSlice({ tensors: [{ name: 'zz', axes: [] }] }, specs), 'SLICE_INVALID', /tensors\[0\]\.name/);
  expectCode(() => resolveSlice({ tensors: [{ name: 'b', axes: [] }] }, specs), 'SLICE_INVALID', /axes/);
  expectCode(() => resolveSlice({ tensors: [{ name: 'b', axes: [{ kind: 'range', start: 2, end: 5 }] }] }, specs), 'SLICE_INVALID', /axes\[0\]/);
  expectCode(() => resolveSlice({ tensors: [{ name: 'b', axes: [{ kind: 'range', start: 2, end: 2 }] }] }, specs), 'SLICE_INVALID');
  expectCode(() => resolveSlice({ tensors: [{ name: 'b', axes: [{ kind: 'indices', indices: [1, 1] }] }] }, specs), 'SLICE_INVALID', /repeated/);
  expectCode(() => resolveSlice({ tensors: [{ name: 'b', axes: [{ kind: 'indices', indices: [4] }] }] }, specs), 'SLICE_INVALID');
  expectCode(() => resolveSlice({ tensors: [{ name: 'b', axes: [{ kind: 'window', start: 0, length: 5 }] }] }, specs), 'SLICE_INVALID');
  expectCode(
    () => resolveSlice({ tensors: [{ name: 'b', axes: [{ kind: 'all' }] }, { name: 'b', axes: [{ kind: 'all' }] }] }, specs),
    'SLICE_INVALID',
    /twice/,
  );
});

test('resolveSlice: an equal slice gets the same resolution (index maps built once); a later edit of the caller\'s slice changes nothing', () => {
  const specs = [{ name: 'w', shape: [4, 3] }];
  const a = { tensors: [{ name: 'w', axes: [{ kind: 'range' as const, start: 0, end: 2 }, { kind: 'all' as const }] }] };
  const first = resolveSlice(a, specs);
  const again = resolveSlice(JSON.parse(JSON.stringify(a)), specs);
  assert.equal(again.tensors, first.tensors);
  a.tensors[0].axes[0] = { kind: 'range', start: 1, end: 4 };
  const edited = resolveSlice(a, specs);
  assert.deepEqual(edited.localSpecs, [{ name: 'w', shape: [3, 3] }]);
  assert.deepEqual(resolveSlice({ tensors: [{ name: 'w', axes: [{ kind: 'range', start: 0, end: 2 }, { kind: 'all' }] }] }, specs).localSpecs, [{ name: 'w', shape: [2, 3] }]);
  // Another model with the same tensor names has its own entries.
  assert.deepEqual(resolveSlice(a, [{ name: 'w', shape: [5, 3] }]).localSpecs, [{ name: 'w', shape: [3, 3] }]);
  assert.throws(() => resolveSlice({ tensors: [{ name: 'nope', axes: [] }] }, specs), /no tensor named "nope"/);
});
