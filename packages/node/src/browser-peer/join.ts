import type { CodecOptions, engine, tasks } from '@fednode/core';

/**
 * What a page needs to join a federated run as a trainer: the run's id and aggregator (a
 * WebSocket address), the model, the codec and the local training, all resolved from the run
 * document on the Node side (`webJoinOf`) so the page never parses run files. The pre-shared
 * key is not in it: the person at the page types it (or the embedding app supplies it).
 */
export interface WebJoin {
  /** What joins: a page tells a trainer's join from a peer's by it. */
  readonly kind: 'trainer';
  readonly runId: string;
  /** The aggregator's WebSocket multiaddr, with its /p2p/ peer id. */
  readonly aggregator: string;
  readonly seed: number;
  /** Model versions the run makes; the run is over at this version. */
  readonly rounds: number;
  /** The MNIST MLP's hidden width and depth (the task `mlp` the page trains). */
  readonly model: { readonly hidden: number; readonly depth: number };
  readonly codec: CodecOptions & { readonly errorFeedback?: boolean };
  readonly local: {
    readonly optimizer: engine.OptimizerSpec;
    readonly lr: number;
    readonly batch: number;
    readonly budget: tasks.TrainingBudget;
    readonly schedule: engine.LrScheduleSpec;
    readonly clipGradNorm?: number;
  };
  /** Whether the run needs its pre-shared key (private network and /fednode/auth/1). */
  readonly keyRequired: boolean;
  /** Longest wait for each network step, ms. */
  readonly timeoutMs: number;
}
