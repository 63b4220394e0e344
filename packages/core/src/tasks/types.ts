import type { FeedBatch, ModelGraph, OptimizerSpec, TrainableModel } from '../engine/index.js';
import type { LrSchedule } from '../engine/schedule.js';
import type { Slice } from '../slice/slice.js';
import type { ParamSet, TensorSpec } from '../tensor/paramset.js';

/**
 * A task is what a participant trains (Disco's TaskProvider): a model family with its slice
 * space, a dataset with its partitioners, the local training defaults and the evaluation.
 * Every runtime (`fednode train`, the simulator, daemons, decentralised peers) selects one by
 * name from the registry and programs against this interface only.
 */

/** The axes of a slice space: narrower (width), shallower (depth), fewer heads, some experts. */
export type SliceAxis = 'width' | 'depth' | 'heads' | 'experts';

/** A request for a sub-network; an axis the task does not have is refused, never ignored. */
export interface SubnetSpec {
  readonly width?: number;
  readonly depth?: number;
  readonly heads?: number;
  readonly experts?: readonly number[];
}

/** A sub-network of a task's model: where its parameters sit in the whole model, and its graph. */
export interface Subnetwork {
  /** `the whole model`, `width 0.5`, `width 0.5, depth 1`, `experts 0,2`. */
  readonly label: string;
  /** The normalised request (absent axes: whole). */
  readonly spec: SubnetSpec;
  /** Null when it is the whole model (nothing to cut). */
  readonly slice: Slice | null;
  /** A fresh training graph of the sub-network (an image classifier, or any trainable model). */
  build(): ModelGraph | TrainableModel;
  /** A standalone ONNX inference file (opset 17) of the sub-network with these parameters (its local ones). */
  exportOnnx(params: ParamSet, metadata?: Record<string, string>): Uint8Array;
}

/** How a task's training examples are cut into shares (each kind only where the data has it). */
export type PartitionSpec =
  | { readonly kind: 'iid' }
  | { readonly kind: 'dirichlet'; readonly alpha: number }
  | { readonly kind: 'shards'; readonly perClient?: number }
  /** The dataset's own clients: SOTU's presidents (president i in share i mod shares). */
  | { readonly kind: 'natural' }
  /**
   * SOTU's presidents in chronological order cut into contiguous runs, one era per share:
   * specialists of distinct styles (Branch-Train-MiX), where `natural` gives every share every era.
   */
  | { readonly kind: 'eras' };

/** One participant's training examples. */
export interface DataShare {
  /** Examples (image rows, or text windows) it holds: FedAvg's weight. */
  readonly examples: number;
  /** Human words for the share (`6000 rows`, `presidents Adams, Bush`). */
  readonly description: string;
  /** One epoch of seeded shuffled batches; the same seed and epoch give the same batches. */
  epoch(batchSize: number, seed: number, epoch: number): Iterable<FeedBatch>;
  /** `count` batches drawn at random from a seeded stream (step-budgeted training). */
  draw(batchSize: number, seed: number, count: number): Iterable<FeedBatch>;
}

/** Held-out examples in evaluation batches. */
export interface EvalSet {
  readonly count: number;
  batches(): Iterable<FeedBatch>;
}

/** How much a participant trains locally: epochs over its share, or a number of steps. */
export type TrainingBudget = { readonly epochs: number } | { readonly steps: number };

/** A task's local-training defaults (what `fednode train` and run documents fall back on). */
export interface LocalDefaults {
  readonly optimizer: OptimizerSpec;
  readonly lr: number;
  readonly batch: number;
  readonly budget: TrainingBudget;
  readonly schedule: LrSchedule;
  readonly clipGradNorm?: number;
}

export interface Task {
  /** The registry name (`mlp`, `transformer`, ...). */
  readonly name: string;
  readonly dataset: string;
  /** What an example is: an image row, or a text window whose every position is a prediction. */
  readonly kind: 'image' | 'text';
  /** Image tasks: how many labels there are (what label flipping mirrors); text: null. */
  readonly classes: number | null;
  /** The whole model's parameters. */
  readonly specs: readonly TensorSpec[];
  /** The axes `subnet` accepts (empty: the model is trained whole). */
  readonly sliceAxes: readonly SliceAxis[];
  /** The partition kinds this task's dataset has. */
  readonly partitions: readonly PartitionSpec['kind'][];
  readonly defaults: LocalDefaults;
  /** The sub-network of a request (default: the whole model); a bad request throws TASK_SLICE naming what is wrong. */
  subnet(spec?: SubnetSpec): Subnetwork;
  /** The seeded initial parameters of the whole model (every participant of a run derives the same). */
  initialParams(seed: number): ParamSet;
  /** Share `index` of `shares` (null: all the training data). */
  share(shares: number, index: number | null, partition: PartitionSpec, seed: number): DataShare;
  /** Held-out examples (the first `limit`, evenly spread for text; default the task's own). */
  testSet(limit?: number): EvalSet;
}

/** What a registry entry makes tasks from: the options a run document's `task` section holds. */
export interface TaskOptions {
  readonly dataset: string;
  /** Use the first N training rows (image datasets). */
  readonly trainRows?: number;
  /** The model's size (task-specific keys; see each task's schema). */
  readonly model?: Readonly<Record<string, number>>;
}

export interface TaskFactory {
  readonly name: string;
  readonly description: string;
  readonly datasets: readonly string[];
  /** JSON schema of `task.model` (sizes), ajv-strict. */
  readonly modelSchema: Readonly<Record<string, unknown>>;
  create(options: TaskOptions): Task;
}
