import { parseSafetensors } from '@fednode/core';
import { AggregatorError } from './errors.js';
import { FedAvg } from './strategies/fedavg.js';
import { FedBuff } from './strategies/fedbuff.js';
import type { Strategy } from './types.js';

/** Restores whichever strategy saved `bytes` (as read from a checkpoint's state file). */
export function restoreStrategy(bytes: Uint8Array): FedAvg | FedBuff {
  let kind: string | undefined;
  try {
    kind = parseSafetensors(bytes).metadata['fednode.strategy'];
  } catch (e) {
    throw new AggregatorError('AGG_STATE', `saved strategy state is unreadable: ${(e as Error).message}`);
  }
  switch (kind) {
    case 'fedavg':
      return FedAvg.restore(bytes);
    case 'fedbuff':
      return FedBuff.restore(bytes);
    default:
      throw new AggregatorError('AGG_STATE', `saved state names strategy "${kind}", which this build does not know`);
  }
}
