import { ParamSet } from '@fednode/core';
import { againstCopy, fillSignal, type Bench } from '../harness.js';
import { ties } from '@fednode/aggregator';

const M = 1024 * 1024;
const MODELS = 5;
// 1M parameters in a few tensors of a transformer-block-like mix, ranked per tensor.
const SPECS = [
  { name: 'attn.weight', shape: [512, 1024] },
  { name: 'mlp.weight', shape: [256, 1024] },
  { name: 'head.weight', shape: [255, 1024] },
  { name: 'head.bias', shape: [1024] },
];

let buffers: { base: ParamSet; models: ParamSet[] } | null = null;

function tiesBuffers(): NonNullable<typeof buffers> {
  if (buffers === null) {
    const base = ParamSet.zeros(SPECS);
    fillSignal(base.data, 71);
    const models = Array.from({ length: MODELS }, (_, i) => {
      // A fine-tuned model: the base plus a small task vector of its own.
      const m = base.clone();
      const d = fillSignal(new Float32Array(m.size), 80 + i);
      for (let j = 0; j < m.size; j++) m.data[j] += 0.01 * d[j];
      return m;
    });
    buffers = { base, models };
  }
  return buffers;
}

/** TIES (density 0.2, per-tensor trim) over 5 models of 1M parameters, in GB/s of model data. */
export const tiesBench: Bench = {
  group: 'aggregate',
  name: 'aggregate.ties',
  run() {
    const { base, models } = tiesBuffers();
    return againstCopy('aggregate.ties', MODELS * M * 4, () => ties(base, models, { density: 0.2 }), {
      models: MODELS,
      params: M,
      tensors: SPECS.length,
      density: 0.2,
    });
  },
};
