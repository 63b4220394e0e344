import type { EncodedTensor, ParamSet, ResolvedSlice } from '@fednode/core';
import type { Refusal } from './errors.js';

/**
 * What an update's header says about it: enough to refuse it before its payload is
 * transferred. The sender is the transport's authenticated peer id.
 */
export interface UpdateHeader {
  readonly sender: string;
  readonly runId?: string;
  readonly round: number;
  readonly baseVersion: number;
  readonly examples: number;
}

/**
 * One trainer's contribution as a strategy sees it: already authenticated (the sender is
 * the transport's peer id), decoded and validated against the model.
 * `delta` is local − global over the slice, laid out as `resolved.localSpecs`.
 */
export interface ClientUpdate extends UpdateHeader {
  readonly resolved: ResolvedSlice;
  readonly delta: ParamSet;
  /**
   * The wire tensors `delta` was decoded from, when it was (absent once a strategy changed the
   * delta, for example by clipping it). Decoding them again gives `delta` bit for bit, so a
   * strategy that holds updates until its round closes may keep these, 4x smaller for int8.
   */
  readonly encoded?: readonly EncodedTensor[];
  readonly metrics?: Readonly<Record<string, number>>;
}

export type Acceptance = { readonly accepted: true } | { readonly accepted: false; readonly refusal: Refusal };

/** The result of one aggregation: the new global model and what went into it. */
export interface AggregateResult {
  readonly version: number;
  readonly params: ParamSet;
  readonly participants: readonly string[];
  /** Numbers worth logging: participants, mean staleness, DP sigma, clipped count, ... */
  readonly metrics: Readonly<Record<string, number>>;
  /**
   * A line for the runtime to log once the version is evaluated (the evaluation's accuracy and
   * loss added to `fields`); absent: the runtime's usual lines say everything.
   */
  readonly report?: { readonly event: string; readonly fields: Readonly<Record<string, string | number | boolean | null | readonly (string | number)[]>> };
  /**
   * Models the runtime scores beside the version, for the report (a one-shot merge's inputs
   * and their plain average: what the merge must beat); absent: none.
   */
  readonly references?: readonly { readonly label: string; readonly params: ParamSet }[];
}

/**
 * How trainers are paced, which decides how a runtime hands out work:
 * - `rounds`: an epoch takes only updates computed for it, from its own model version; each
 *   trainer gets one task per epoch, and an update that misses its epoch is refused (FedAvg).
 * - `continuous`: a trainer starts again as soon as it is done; an accepted update lands in
 *   the epoch open when it arrives, whatever version it was computed from (FedBuff).
 */
export type Pacing = 'rounds' | 'continuous';

/**
 * What a trainer's local loop takes from the strategy, besides the run's optimiser settings.
 * Trainers read it through the registry (`localTrainingOf(run.strategy)`), never from a
 * strategy's own keys, so a new strategy changes local training without trainer code knowing it.
 */
export interface LocalTraining {
  /** FedProx: add (μ/2)·‖w − w_global‖² to the local loss (absent or 0: plain local training). */
  readonly proximalMu?: number;
  /**
   * FedProx's inexact local solutions: a trainer that cannot finish its local budget before the
   * round's deadline sends the work it has done (at least one step) instead of missing the round.
   */
  readonly partialWork?: boolean;
  /**
   * One-shot merging of models from different initialisations: a trainer starts from its own
   * seeded initialisation instead of the pulled model (and still sends its model as a delta
   * from the pulled one, so the aggregator gets the whole model back).
   */
  readonly ownInit?: boolean;
}

/** What the runtime knows about an epoch it opens. */
export interface EpochOpening {
  /**
   * Trainers actually asked to contribute to this epoch, when the runtime chooses them itself
   * (the simulator samples a cohort); it replaces a configured cohort for this epoch only.
   */
  readonly cohort?: number;
}

/**
 * A strategy is a plain object with explicit state (Flower's abstraction). A runtime (the
 * daemon, the simulator) drives any strategy through this interface alone:
 *
 * 1. `open(now)` when an epoch starts: the strategy sets its deadline from its config.
 * 2. Per update: `precheck(header)` before the payload, `check(update)` once decoded (nothing
 *    changes; the runtime logs the update durably only if this passes), then `offer(update)`,
 *    which accepts whatever `check` passed. Whether accepted updates are applied on arrival or
 *    held and applied in a canonical (content-digest) order at `aggregate` is the strategy's
 *    business: its results never depend on arrival order where its semantics allow.
 * 3. `ready(now)` → `aggregate(now)`; or, past `deadlineMs` and not ready, `abandon(now)`.
 * 4. `saveState()` at any point; the registry's `restore` resumes bit for bit.
 */
export interface Strategy {
  /** The registry kind that made it (and that `saveState` records). */
  readonly name: string;
  readonly pacing: Pacing;
  /** The global model version updates are computed against (synchronous) or the newest one (asynchronous). */
  readonly version: number;
  /**
   * What an update must be computed for and what a logged update belongs to: the round
   * (`rounds` pacing) or the version being made (`continuous`). It changes exactly when an
   * epoch ends (`aggregate`, or an `abandon` that returns true).
   */
  readonly epoch: number;
  /** The current global model (not a copy: do not modify). */
  readonly global: ParamSet;
  /** Updates accepted into the current epoch. */
  readonly received: number;
  /** How many accepted updates make the epoch ready on their own; null when only a deadline does. */
  readonly expected: number | null;
  /** When the open epoch's time is up (milliseconds in the runtime's clock); null when it has no deadline. */
  readonly deadlineMs: number | null;
  open(nowMs: number, opening?: EpochOpening): void;
  /** The refusal an update with this header would get, from the header alone (null: it may be taken). */
  precheck(header: UpdateHeader): Refusal | null;
  /** The refusal `offer` would give this update (null: `offer` takes it). Changes nothing. */
  check(update: ClientUpdate): Refusal | null;
  offer(update: ClientUpdate): Acceptance;
  /** Versions made since `baseVersion` when the strategy weighs staleness (for logs); undefined when it does not. */
  staleness(baseVersion: number): number | undefined;
  /**
   * True when `aggregate` may run. `nowMs` in the runtime's clock; undefined: no clock, deadlines
   * never pass; Infinity: every deadline has passed (a simulator that knows nothing more will come).
   */
  ready(nowMs?: number): boolean;
  /**
   * Work `aggregate` needs done first that takes long (training an assembled mixture's routers).
   * Runtimes await it once `ready` holds, take no update meanwhile that it would leave out (the
   * strategy refuses them), then call `aggregate`. Absent: `aggregate` needs nothing first.
   * `signal` aborts it (the runtime is stopping); a restarted runtime prepares again.
   */
  prepare?(nowMs?: number, signal?: AbortSignal): Promise<void>;
  aggregate(nowMs?: number): AggregateResult;
  /**
   * The deadline passed and the strategy is not ready. Returns true when the epoch ends
   * without a new version (a round with too few updates is lost: epoch + 1, same version);
   * false when the strategy just restarts its wait in the same epoch (an empty buffer).
   */
  abandon(nowMs: number): boolean;
  /** Everything the strategy holds, as bytes (safetensors with JSON metadata). */
  saveState(): Uint8Array;
}
