/** Refusal codes a strategy gives for an update it will not take (stable; sent back to the trainer). */
export type RefusalCode =
  | 'WRONG_RUN' // the update belongs to another run
  | 'WRONG_ROUND' // a synchronous round the strategy is not collecting
  | 'WRONG_BASE_VERSION' // computed from a model version the round does not accept
  | 'TOO_STALE' // asynchronous: staleness over the bound
  | 'FUTURE_VERSION' // base version newer than the strategy's (negative staleness)
  | 'DUPLICATE_SENDER' // this sender already contributed to the round or buffer
  | 'NORM_BOUND' // the delta's L2 norm is over the configured bound
  | 'NO_EXAMPLES' // example weighting needs a positive example count
  | 'NEEDS_FULL_MODEL' // robust aggregation compares whole updates only
  | 'ROUND_CLOSED'; // the round is ready and takes no more updates

export type AggregatorErrorCode = 'AGG_CONFIG' | 'AGG_STATE' | 'AGG_NOT_READY' | 'AGG_LAYOUT' | 'AGG_TOO_FEW';

/** A strategy's refusal to use an update: not an error of the strategy, an answer to the sender. */
export class Refusal {
  constructor(
    readonly code: RefusalCode,
    readonly reason: string,
  ) {}
}

/** Misuse of a strategy (bad configuration, corrupt saved state, aggregating too early). */
export class AggregatorError extends Error {
  readonly code: AggregatorErrorCode;
  constructor(code: AggregatorErrorCode, message: string) {
    super(message);
    this.name = 'AggregatorError';
    this.code = code;
  }
}
