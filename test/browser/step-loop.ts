import type { Batch, engine } from '@fednode/core';

/**
 * The timed loop of `browser.train.mlp.step`, the same in the page and in Node: one awaited
 * MLP step after another on a fixed synthetic batch.
 */

export function syntheticBatch(size: number): Batch {
  const x = new Float32Array(size * 784).map((_, i) => ((i * 2654435761) >>> 0) / 4294967296);
  return { size, x, y: BigInt64Array.from({ length: size }, (_, i) => BigInt(i % 10)) };
}

/** Seconds `steps` steps take. */
export async function timeSteps(trainer: engine.Trainer, batch: Batch, steps: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainer.step(batch);
  return (performance.now() - t0) / 1000;
}
