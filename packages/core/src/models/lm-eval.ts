import { reshape, slice, softmaxCrossEntropy, type Value } from '../engine/index.js';
import { correctCount } from './nodes.js';
import type { TransformerModel } from './transformer.js';

/**
 * A language model's evaluation values on LEAF samples: the cross-entropy and the hit count of
 * the last position of each window (the next character after the window), which is what
 * held-out text is scored on.
 */
export function lmEvalOutputs(m: TransformerModel): { loss: Value; correct: Value } {
  const t = m.config.seqLen;
  const yLast = reshape(slice(m.y, [t - 1], [t], [1]), [-1]);
  return { loss: softmaxCrossEntropy(m.lastLogits, yLast), correct: correctCount(m.lastLogits, yLast) };
}
