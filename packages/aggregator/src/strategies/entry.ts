import type { ParamSet } from '@fednode/core';
import type { LocalTraining, Pacing, Strategy } from '../types.js';
import type { ModelAssembler } from './assembler.js';
import type { PermutationSpec } from '../merge/permutation-spec.js';
import type { SectionSchema } from './schema.js';

/** A strategy's config section as a run file or scenario holds it: `kind` and that kind's keys. */
export interface StrategySection {
  readonly kind: string;
  readonly [key: string]: unknown;
}

/** Where a section is checked, so its problems name their place and what they depend on. */
export interface CheckContext {
  /** The section's path in its file, prefixed to every problem ("strategy", "sweep[1].strategy"). */
  readonly path: string;
  /**
   * Trainers the runtime asks per epoch when it picks them itself, and the setting that says
   * how many (the simulator's clients.perRound); absent where trainers come as they will (daemons).
   */
  readonly perEpoch?: { readonly count: number; readonly setting: string };
}

/** What a runtime hands a strategy it builds or restores. */
export interface CreateContext {
  readonly runId?: string;
  /** Builds merged models that need training (a mixture's routers); only runtimes with an engine and data have one. */
  readonly assembler?: ModelAssembler;
  /**
   * The permutation symmetries of the run's model (its hidden units, channels, heads), for
   * weight matching models trained from different initialisations; absent: an MLP's are read
   * off its dense layers, and other models cannot be matched.
   */
  readonly alignment?: PermutationSpec;
}

/** A section made to fit a run of a few real trainer processes, and what that changed. */
export interface FittedSection {
  readonly section: StrategySection;
  readonly notes: readonly string[];
}

/**
 * Everything a runtime needs to know about one kind of strategy, so that it never names one:
 * its config section's schema and cross-field rules, how to build and restore it, and what
 * it asks of trainers' local training. An entry is written against its own section type `S`;
 * the registry gives an entry only sections of its kind that passed its schema (and the
 * strategy's constructor checks them again), which is what makes the one cast below sound.
 */
export interface TypedStrategyEntry<S extends StrategySection> {
  readonly kind: S['kind'];
  readonly pacing: Pacing;
  /** The versions a run of this kind makes whatever else it says (one-shot merging: 1); the run's `rounds` must equal it. Absent: as many as `rounds`. */
  readonly versions?: number;
  /** The JSON schema of its section (ajv strict mode compatible; `kind` is a const). */
  readonly schema: SectionSchema;
  /** The rules a schema cannot say, as problems naming their path (empty: none). Takes a section that passed `schema`. */
  check(section: S, ctx: CheckContext): string[];
  create(global: ParamSet, section: S, ctx: CreateContext): Strategy;
  /**
   * A saved state of this kind. `section`: the runtime's section now, whose deadline policy
   * replaces the saved one (what to wait for from now is the operator's call, not state).
   */
  restore(bytes: Uint8Array, section?: S, ctx?: CreateContext): Strategy;
  localTraining(section: S): LocalTraining;
  /**
   * The section for `trainers` real processes standing in for a simulated population that
   * sampled `perEpoch` clients per epoch (`fednode simulate --real`).
   */
  forTrainers(section: S, o: { readonly trainers: number; readonly perEpoch: number }): FittedSection;
  /** The longest an epoch waits on its own by this section (a deadline), seconds; undefined: it waits for updates. */
  waitS(section: S): number | undefined;
  /** What an operator must hear before the run starts (a setting that voids a guarantee); absent: nothing. */
  warnings?(section: S): string[];
}

/** An entry as runtimes hold it: any section of its kind. */
export type StrategyEntry = TypedStrategyEntry<StrategySection>;

export function defineStrategy<S extends StrategySection>(e: TypedStrategyEntry<S>): StrategyEntry {
  return e as unknown as StrategyEntry;
}
