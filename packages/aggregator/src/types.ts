import type { ParamSet, ResolvedSlice } from '@fednode/core';
import type { Refusal } from './errors.js';

/**
 * One trainer's contribution as a strategy sees it: already authenticated (the sender is
 * the transport's peer id), decoded and validated against the model.
 * `delta` is local − global over the slice, laid out as `resolved.localSpecs`.
 */
export interface ClientUpdate {
  readonly sender: string;
  readonly runId?: string;
  readonly round: number;
  readonly baseVersion: number;
  readonly examples: number;
  readonly resolved: ResolvedSlice;
  readonly delta: ParamSet;
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
}

/**
 * A strategy is a plain object with explicit state (Flower's abstraction): it is offered
 * updates, says when it is ready, folds what it accepted into a new global model, and can
 * save and restore everything it holds so a restarted aggregator resumes bit for bit.
 */
export interface Strategy {
  readonly name: string;
  /** The global model version updates are computed against (synchronous) or the newest one (asynchronous). */
  readonly version: number;
  /** The current global model (not a copy: do not modify). */
  readonly global: ParamSet;
  offer(update: ClientUpdate): Acceptance;
  /** True when `aggregate` may run (`nowMs` for deadlines, in the caller's clock). */
  ready(nowMs?: number): boolean;
  aggregate(nowMs?: number): AggregateResult;
  /** Everything the strategy holds, as bytes (safetensors with JSON metadata). */
  saveState(): Uint8Array;
}
