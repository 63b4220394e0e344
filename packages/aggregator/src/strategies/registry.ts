import { AggregatorError } from '../errors.js';
import type { LocalTraining, Strategy } from '../types.js';
import type { ParamSet } from '@fednode/core';
import type { CreateContext, StrategyEntry, StrategySection } from './entry.js';
import { FEDAVG_ENTRY } from './fedavg-entry.js';
import { FEDBUFF_ENTRY } from './fedbuff-entry.js';
import { FEDPROX_ENTRY } from './fedprox-entry.js';
import { ONESHOT_ENTRY } from './oneshot-entry.js';

/** The built-in kinds, in the order schemas and messages list them. */
const entries = new Map<string, StrategyEntry>([FEDAVG_ENTRY, FEDBUFF_ENTRY, FEDPROX_ENTRY, ONESHOT_ENTRY].map((e) => [e.kind, e]));

/** Adds a kind beyond the built-in ones (a kind may be taken once). */
export function registerStrategy(e: StrategyEntry): void {
  if (entries.has(e.kind)) throw new AggregatorError('AGG_CONFIG', `strategy "${e.kind}" is already registered`);
  entries.set(e.kind, e);
}

/** The registered kinds, in registration order. */
export function strategyKinds(): string[] {
  return [...entries.keys()];
}

export function hasStrategy(kind: string): boolean {
  return entries.has(kind);
}

export function strategyEntry(kind: string): StrategyEntry {
  const e = entries.get(kind);
  if (e === undefined) throw new AggregatorError('AGG_CONFIG', `unknown strategy "${kind}" (known: ${strategyKinds().join(', ')})`);
  return e;
}

/** A new strategy from its section, starting from `global` at version 0. */
export function createStrategy(global: ParamSet, section: StrategySection, ctx: CreateContext = {}): Strategy {
  return strategyEntry(section.kind).create(global, section, ctx);
}

/** What the section's strategy asks of a trainer's local loop: how trainers learn it (`{}` for most). */
/** The section's warnings for the operator (runtimes log them loudly at start). */
export function strategyWarnings(section: StrategySection): string[] {
  return strategyEntry(section.kind).warnings?.(section) ?? [];
}

export function localTrainingOf(section: StrategySection): LocalTraining {
  return strategyEntry(section.kind).localTraining(section);
}

export { defineStrategy, type CheckContext, type CreateContext, type FittedSection, type StrategyEntry, type StrategySection, type TypedStrategyEntry } from './entry.js';
