import { parseSafetensors } from '@fednode/core';
import { AggregatorError } from './errors.js';
import { STATE_KIND_KEY } from './state.js';
import { hasStrategy, strategyEntry, type CreateContext, type StrategySection } from './strategies/registry.js';
import type { Strategy } from './types.js';

/** The kind of strategy that saved `bytes`. */
export function savedStrategyKind(bytes: Uint8Array): string {
  let kind: string | undefined;
  try {
    kind = parseSafetensors(bytes).metadata[STATE_KIND_KEY];
  } catch (e) {
    throw new AggregatorError('AGG_STATE', `saved strategy state is unreadable: ${(e as Error).message}`);
  }
  if (kind === undefined || !hasStrategy(kind)) throw new AggregatorError('AGG_STATE', `saved state names strategy "${kind}", which this build does not know`);
  return kind;
}

/**
 * Restores whichever strategy saved `bytes` (as read from a checkpoint's state file).
 * `section`: the runtime's section now (its kind must be the saved one; its deadline policy applies).
 */
export function restoreStrategy(bytes: Uint8Array, section?: StrategySection, ctx?: CreateContext): Strategy {
  const kind = savedStrategyKind(bytes);
  if (section !== undefined && section.kind !== kind) throw new AggregatorError('AGG_STATE', `the saved state is of strategy ${kind}, the section asks for ${section.kind}`);
  return strategyEntry(kind).restore(bytes, section, ctx);
}
