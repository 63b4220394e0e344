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
  /** `--real`: each daemon's peak resident memory (VmHWM), MiB: the aggregator's; the trainers' smallest, median, mean and largest. */
  readonly daemon_rss_mb?: { readonly aggregator: number; readonly trainer_min: number; readonly trainer_median: number; readonly trainer_mean: number; readonly trainer_max: number };
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

/** The simulator's model calibrated for a real run on shaped links (sim/calibrate.ts says how). */
export interface Calibration {
  /** Versions whose rounds calibrated the model. */
  readonly versions: readonly number[];
  /** Seconds one local step takes with the engine alone in one process on this machine. */
  readonly solo_step_s: number;
  /** Seconds one local step took in each calibration round's slowest trainer (median over those rounds). */
  readonly step_s: number;
  /** Seconds encoding an update took, likewise. */
  readonly encode_s: number;
  /** Seconds an update spent outside its modelled transfers, training and encoding (median over the updates). */
  readonly overhead_s: number;
  /** Local steps per update and the examples a step processes on average (an epoch's last batch may be short). */
  readonly steps: number;
  readonly examples_per_step: number;
  readonly cores: number;
  readonly trainers: number;
  /** step_s / solo_step_s: what training beside the others cost a trainer. */
  readonly contention: number;
}

/** A real run against the calibrated simulator's prediction of it (sim/compare.ts). */
export interface RoundComparison {
  readonly round: number;
  readonly measured_s: number;
  readonly predicted_s: number;
  readonly measured_bytes: number;
  readonly predicted_bytes: number;
}

export interface Comparison {
  readonly calibration: Calibration;
  readonly rounds: readonly RoundComparison[];
  /** Mean over the predicted rounds of |measured - predicted| / measured. */
  readonly round_time_error: number;
  /** |mean measured - mean predicted| / mean measured over the predicted rounds: the model's bias, without the rounds' own scatter. */
  readonly mean_round_time_error: number;
  /** Rounds (1-based) the error is over: the odd ones after the first (the even ones calibrate), or the calibration's own when there are none (then in_sample). */
  readonly predicted_rounds: readonly number[];
  readonly in_sample: boolean;
  /** Of the whole run's bytes: per round they smear (a round's counters are read up to a poll after it closes, when the next model may be on its way). */
  readonly bytes_error: number;
}
