/**
 * Aggregation throughput, in GB/s of decoded update data against a copy of the same bytes:
 * the strategy's whole path from offered updates to the next global model.
 */
import { ParamSet, fullSlice, resolveSlice, type Slice } from '@fednode/core';
import { FedAvg, type ClientUpdate } from '@fednode/aggregator';
import { fillSignal, againstCopy, type Bench } from '../harness.js';
import { tiesBench } from './ties.js';

const M = 1 << 20; // 1M parameters

function model(): ParamSet {
  return ParamSet.zeros([
    { name: 'w', shape: [1024, 1008] },
    { name: 'b', shape: [M - 1024 * 1008] },
  ]);
}

function updates(n: number, slice: (k: number, g: ParamSet) => Slice): ClientUpdate[] {
  const g = model();
  return Array.from({ length: n }, (_, k) => {
    const resolved = resolveSlice(slice(k, g), g.specs);
    const delta = ParamSet.zeros(resolved.localSpecs);
    fillSignal(delta.data, k + 1);
    return { sender: `peer-${k}`, round: 0, baseVersion: 0, examples: 100 + k, resolved, delta };
  });
}

function run(global: ParamSet, us: ClientUpdate[], config: ConstructorParameters<typeof FedAvg>[1]): () => void {
  return () => {
    const f = new FedAvg(global, config);
    for (const u of us) f.offer(u);
    f.aggregate();
  };
}

/** HeteroFL-style widths cycling over 1, 1/2, 1/4 of the rows (leading rows) and the full bias. */
function heteroSlice(k: number): Slice {
  const rows = [1024, 512, 256][k % 3];
  return {
    tensors: [
      { name: 'w', axes: [{ kind: 'range', start: 0, end: rows }, { kind: 'all' }] },
      { name: 'b', axes: [{ kind: 'all' }] },
    ],
  };
}

export const aggregateBenches: Bench[] = [
  {
    group: 'aggregate',
    name: 'aggregate.fedavg',
    run: () => {
      const us = updates(100, (_, g) => fullSlice(g.specs));
      return againstCopy('aggregate.fedavg', 100 * M * 4, run(model(), us, {}), { updates: 100, params: M }, 5);
    },
  },
  {
    group: 'aggregate',
    name: 'aggregate.masked',
    run: () => {
      const us = updates(100, heteroSlice);
      const bytes = us.reduce((n, u) => n + u.delta.data.byteLength, 0);
      return againstCopy('aggregate.masked', bytes, run(model(), us, { weighting: 'uniform' }), { updates: 100, params: M, slices: 'rows 1, 1/2, 1/4' }, 5);
    },
  },
  {
    group: 'aggregate',
    name: 'aggregate.median',
    run: () => {
      const us = updates(20, (_, g) => fullSlice(g.specs));
      return againstCopy('aggregate.median', 20 * M * 4, run(model(), us, { robust: { kind: 'median' } }), { updates: 20, params: M }, 5);
    },
  },
  tiesBench,
];
