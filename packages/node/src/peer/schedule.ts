import { models } from '@fednode/core';

/** The learning rate at an inner step: linear warm-up, then a cosine to lr·minLrFraction (as the single-process trainer uses). */
export function lrAt(step: number, o: { lr: number; steps: number; warmupSteps: number; minLrFraction: number }): number {
  return models.lrAt(step, o);
}
