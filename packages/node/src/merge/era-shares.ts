import { tasks, type Task, type engine } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import { MergeCommandError } from './errors.js';

/**
 * Specialists' data for Branch-Train-MiX on SOTU: the presidents cut into `groups`
 * contiguous runs in chronological order (one era each), so that each specialist learns a
 * distinct style. The task's own `natural` partition deals presidents round-robin
 * (president i to share i mod n), which gives every share every era: specialists of
 * nearly the same distribution, with nothing for experts to specialise in.
 */
export function eraShares(task: Task, groups: number): tasks.DataShare[] {
  if (task.dataset !== 'sotu') throw new MergeCommandError(`era shares are cut from SOTU's presidents; ${task.name} trains on ${task.dataset}`);
  const presidents = tasks.textData('sotu').train.segments.length;
  if (!Number.isInteger(groups) || groups < 1 || groups > presidents) throw new MergeCommandError(`${groups} groups of ${presidents} presidents`);
  // share(presidents, i, natural) is president i alone.
  const one = Array.from({ length: presidents }, (_, i) => task.share(presidents, i, { kind: 'natural' }, 0));
  return Array.from({ length: groups }, (_, g) => unionShare(one.slice(Math.floor((g * presidents) / groups), Math.floor(((g + 1) * presidents) / groups))));
}

/**
 * Several shares as one: each batch comes whole from one part, picked at random in
 * proportion to its examples, so every window of the union is equally likely.
 */
export function unionShare(parts: readonly tasks.DataShare[]): tasks.DataShare {
  const examples = parts.reduce((n, p) => n + p.examples, 0);
  function* draw(batchSize: number, seed: number, count: number): Generator<engine.FeedBatch> {
    const rng = Rng.derive(seed, 2);
    const streams = parts.map((p, i) => p.draw(batchSize, Rng.derive(seed, 3, i).nextU32(), count)[Symbol.iterator]());
    for (let k = 0; k < count; k++) {
      let pick = rng.uniform() * examples;
      let i = 0;
      while (i < parts.length - 1 && pick >= parts[i].examples) pick -= parts[i++].examples;
      const next = streams[i].next();
      if (next.done === true) return;
      yield next.value;
    }
  }
  return {
    examples,
    description: parts.map((p) => p.description.replace(/^.*\((.*)\)$/, '$1')).join(', '),
    draw,
    epoch: (batchSize, seed, epoch) => draw(batchSize, Rng.derive(seed, epoch).nextU32(), Math.ceil(examples / batchSize)),
  };
}
