import { tasks, type Task, type engine } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import { MergeCommandError } from './errors.js';

/**
 * Specialists' data for Branch-Train-MiX on SOTU: the presidents cut into `groups`
 * contiguous runs in chronological order (one era each), so that each specialist learns a
 * distinct style. The task's own `natural` partition deals presidents round-robin
 * (president i to share i mod n), which gives every share every era: specialists of
 * nearly the same distribution, with nothing for experts to specialise in. The groups are the
 * task's `eras` partition (what a one-shot run's trainers train on); here each batch comes
 * whole from one president, as the figures in docs/merging.md were measured.
 */
export function eraShares(task: Task, groups: number): { share: tasks.DataShare; speakers: string[] }[] {
  if (task.dataset !== 'sotu') throw new MergeCommandError(`era shares are cut from SOTU's presidents; ${task.name} trains on ${task.dataset}`);
  const names = tasks.textData('sotu').train.segments.map((g) => g.name);
  if (!Number.isInteger(groups) || groups < 1 || groups > names.length) throw new MergeCommandError(`${groups} groups of ${names.length} presidents`);
  return Array.from({ length: groups }, (_, g) => {
    const speakers = names.slice(Math.floor((g * names.length) / groups), Math.floor(((g + 1) * names.length) / groups));
    return { share: speakerShare(task, speakers), speakers };
  });
}

/** The training text of the named speakers (of a text task's dataset) as one share. */
export function speakerShare(task: Task, speakers: readonly string[]): tasks.DataShare {
  const names = tasks.textData(task.dataset as tasks.TextDatasetName).train.segments.map((g) => g.name);
  // share(n, i, natural) with n = every speaker is speaker i alone.
  return unionShare(
    speakers.map((name) => {
      const i = names.indexOf(name);
      if (i < 0) throw new MergeCommandError(`${task.dataset} has no speaker "${name}"`);
      return task.share(names.length, i, { kind: 'natural' }, 0);
    }),
  );
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
