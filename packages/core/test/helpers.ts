import { ErrorFeedback, ParamSet, encodeUpdate, extractSlice, resolveSlice, type Slice, type Update } from '../src/index.js';

export const model = [
  { name: 'fc1.weight', shape: [64, 192] },
  { name: 'fc1.bias', shape: [64] },
  { name: 'fc2.weight', shape: [10, 64] },
];

export function sampleUpdate(codec: 'int8' | 'int4' | 'demo' | 'fp16' | 'auto' = 'auto'): { update: Update; delta: ParamSet; slice: Slice } {
  const slice: Slice = {
    tensors: [
      { name: 'fc1.weight', axes: [{ kind: 'range', start: 0, end: 32 }, { kind: 'all' }] },
      { name: 'fc1.bias', axes: [{ kind: 'range', start: 0, end: 32 }] },
      { name: 'fc2.weight', axes: [{ kind: 'all' }, { kind: 'window', start: 48, length: 32 }] },
    ],
  };
  const resolved = resolveSlice(slice, model);
  const g = ParamSet.zeros(model);
  g.data.forEach((_, i) => (g.data[i] = Math.sin(i) * 0.01));
  const delta = extractSlice(g, resolved);
  const update = encodeUpdate(
    { runId: 'run-1', sender: '12D3KooWtest', baseVersion: 7, round: 3, sequence: 41, examples: 600, metrics: { loss: 0.25, steps: 10 } },
    slice,
    delta,
    { codec, chunk: 16, topk: 16 },
    new ErrorFeedback(),
  );
  return { update, delta, slice };
}

