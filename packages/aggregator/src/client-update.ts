import { decodeUpdateTensors, type TensorSpec, type Update } from '@fednode/core';
import type { ClientUpdate } from './types.js';

/**
 * Decodes and validates a wire update against the model into what strategies take. The
 * sender is the authenticated peer id from the transport, never the one the update claims.
 */
export function clientUpdateFrom(update: Update, model: readonly TensorSpec[], authenticatedSender: string): ClientUpdate {
  const { delta, resolved } = decodeUpdateTensors(update, model);
  return {
    sender: authenticatedSender,
    runId: update.runId,
    round: update.round,
    baseVersion: update.baseVersion,
    examples: update.examples,
    resolved,
    delta,
    encoded: update.tensors,
    metrics: update.metrics,
  };
}
