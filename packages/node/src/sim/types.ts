import type { Comparison } from './compare.js';
import type { OneShotResult } from './oneshot.js';

/** One line of the metrics log: the state after an aggregation. */
export interface RoundRecord {
  readonly round: number;
  readonly version: number;
  readonly virtual_time_s: number;
  /** Null on rounds that were not evaluated (evalEvery). */
  readonly accuracy: number | null;
  readonly loss: number | null;
  /** Cumulative bytes over the run. */
  readonly bytes_up: number;
  readonly bytes_down: number;
  readonly participants: number;
  readonly dispatched: number;
  readonly dropped: number;
  readonly late: number;
  readonly refused: number;
  readonly attackers: number;
  readonly mean_staleness: number;
  readonly wall_s: number;
}

export interface SimSummary {
  readonly scenario: string;
  readonly label: string;
  readonly final_accuracy: number;
  readonly final_loss: number;
  readonly rounds: number;
  readonly virtual_time_s: number;
  readonly bytes_up: number;
  readonly bytes_down: number;
  readonly wall_time_s: number;
  readonly clients: number;
  readonly peak_rss_mb: number;
  /** Wall time spent in local training (the engine); the rest is the simulator's own overhead. */
  readonly train_time_s: number;
  readonly overhead_share: number;
  /** First crossing of the scenario's target accuracy, when it has one and it was reached. */
  readonly time_to_target_s: number | null;
  readonly bytes_up_to_target: number | null;
  /** The initial global model's held-out accuracy and loss (what the run improved on). */
  readonly initial_accuracy?: number;
  readonly initial_loss?: number;
  /** FedProx's partial work: updates that stopped at the deadline with part of their budget. */
  readonly partial_updates?: number;
  /** Parameters of the whole global model (a sliced client's update carries fewer). */
  readonly model_params?: number;
  /** With slices: each slice's sub-network of the final global model, by its label (`width 0.5`, `experts 0,2`). */
  readonly accuracy_by_slice?: Readonly<Record<string, number>>;
  readonly loss_by_slice?: Readonly<Record<string, number>>;
  /** One-shot merging scenarios: every method's accuracy. */
  readonly oneshot?: OneShotResult;
  /** `--real`: each daemon's peak resident memory, MiB (the aggregator's; the trainers' largest and mean). */
  readonly daemon_rss_mb?: { readonly aggregator: number; readonly trainer_max: number; readonly trainer_mean: number };
  /** `--shaped`: the calibrated simulator's prediction of this run, round by round, and its errors. */
  readonly prediction?: Comparison;
}

export interface SimOptions {
  /** Override the scenario's rounds. */
  readonly rounds?: number;
  /** Override the scenario's seed. */
  readonly seed?: number;
  /** A label for sweeps and reports. */
  readonly label?: string;
  readonly onRound?: (r: RoundRecord) => void;
  /** Intra-op threads for onnxruntime (default 1: small local batches run best on one). */
  readonly threads?: number;
}
