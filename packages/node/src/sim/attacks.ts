import { Rng } from '@fednode/kernels';
import type { ParamSet, Task, engine, tasks } from '@fednode/core';
import { SimError } from './errors.js';
import type { AttackSpec } from './scenario.js';

/**
 * What an attacking client does to its honest delta before sending it. Label flipping
 * happens in training (see `flipLabels`); a free rider trains nothing and sends zeros.
 */
export function attackDelta(a: AttackSpec, delta: ParamSet, seed: number): void {
  const d = delta.data;
  switch (a.kind) {
    case 'sign-flip': {
      const f = -(a.factor ?? 1);
      for (let i = 0; i < d.length; i++) d[i] *= f;
      return;
    }
    case 'scaling': {
      const f = a.factor ?? 10;
      for (let i = 0; i < d.length; i++) d[i] *= f;
      return;
    }
    case 'noise':
      new Rng(seed).fillNormal(d, 0, a.factor ?? 1);
      return;
    case 'free-rider':
      d.fill(0);
      return;
    case 'label-flip':
      return;
  }
}

/** Label flipping: the share's batches with class y read as classes − 1 − y (image tasks). */
export function flippedShare(share: tasks.DataShare, task: Task): tasks.DataShare {
  const classes = task.classes;
  if (classes === null) throw new SimError('SIM_SCENARIO', `label-flip attackers need an image task; ${task.name} on ${task.dataset} has no labels`);
  const top = BigInt(classes - 1);
  function* flip(batches: Iterable<engine.FeedBatch>): Generator<engine.FeedBatch> {
    for (const b of batches) {
      const y = b.feeds.y;
      const flipped = BigInt64Array.from(y.data as BigInt64Array, (v) => top - v);
      yield { size: b.size, feeds: { ...b.feeds, y: { ...y, data: flipped } } };
    }
  }
  return {
    ...share,
    epoch: (batchSize, seed, epoch) => flip(share.epoch(batchSize, seed, epoch)),
    draw: (batchSize, seed, count) => flip(share.draw(batchSize, seed, count)),
  };
}


