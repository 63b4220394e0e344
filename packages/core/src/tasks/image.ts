import { Rng } from '@fednode/kernels';
import { batches, type Batch } from '../data/batches.js';
import type { Dataset, Normalization } from '../data/dataset.js';
import { imageRows, type ImageDatasetName, type PixelSplit } from '../data/mnist.js';
import { PixelSource } from '../data/pixel-source.js';
import { dirichletPartition, iidPartition, shardPartition } from '../data/partition.js';
import { cnn, initParams, type ModelGraph } from '../engine/index.js';
import { exportOnnx } from '../models/export.js';
import { mlpSubnetwork, type MlpSupernetConfig } from '../models/mlp-supernet.js';
import { ParamSet } from '../tensor/paramset.js';
import { datasetShare, imageFeeds, mapIter } from './dataset-share.js';
import { TaskError } from './errors.js';
import { normaliseSubnet, subnetLabel } from './subnet-label.js';
import type { DataShare, EvalSet, LocalDefaults, PartitionSpec, SliceAxis, Subnetwork, SubnetSpec, Task, TaskFactory, TaskOptions } from './types.js';

/**
 * The image tasks on MNIST and Fashion-MNIST: the MLP (a supernet: every hidden layer has an
 * elastic width, and the hidden layers an elastic depth) and the FedAvg paper's CNN (trained
 * whole). Rows are normalised with the training split's statistics; shares come from the
 * seeded partitioners, so every process of a run computes the same split.
 */

const IMAGE_PARTITIONS: readonly PartitionSpec['kind'][] = ['iid', 'dirichlet', 'shards'];
const EVAL_BATCH = 500;



/**
 * Each split opened once per process (its labels and statistics), for every task on it: sweep
 * variants and many runs in one process. Pixels are read per share, so nothing here holds them.
 */
const sources = new Map<string, PixelSource>();

function sourceOf(name: ImageDatasetName, split: 'train' | 'test'): PixelSource {
  const key = `${name}/${split}`;
  let s = sources.get(key);
  if (s === undefined) {
    s = PixelSource.open(name, split);
    sources.set(key, s);
  }
  return s;
}

function checkDataset(task: string, dataset: string): ImageDatasetName {
  if (dataset !== 'mnist' && dataset !== 'fashion-mnist') throw new TaskError('TASK_UNKNOWN', `task ${task} trains on mnist or fashion-mnist, not ${dataset}`);
  return dataset;
}

/** What every image task shares: the data, its shares and the test rows. */
abstract class ImageTask implements Task {
  abstract readonly name: string;
  readonly kind = 'image';
  // MNIST and Fashion-MNIST both have ten labels; a test holds the loaded data to it.
  readonly classes = 10;
  abstract readonly specs: readonly { name: string; shape: number[] }[];
  abstract readonly sliceAxes: readonly SliceAxis[];
  readonly partitions = IMAGE_PARTITIONS;
  abstract readonly defaults: LocalDefaults;
  /**
   * Test rows by how many were asked for, read on first use (every evaluation reads them). Kept
   * as their pixel bytes and made floats a batch at a time: a quarter of the memory, for the
   * lifetime of an aggregator, at a few milliseconds an evaluation (docs/daemon-memory.md).
   */
  private readonly testRows = new Map<number, PixelSplit>();

  constructor(
    readonly dataset: ImageDatasetName,
    private readonly trainRows: number | undefined,
  ) {}

  abstract subnet(spec?: SubnetSpec): Subnetwork;
  protected abstract wholeGraph(): ModelGraph;

  /** What an exported model needs said about its input: the task, the data and the normalisation. */
  protected exportMetadata(): Record<string, string> {
    const norm = sourceOf(this.dataset, 'train').normalization();
    return {
      'fednode.task': this.name,
      'fednode.dataset': this.dataset,
      'fednode.input': 'x: [N, 784] float32, 28x28 pixels row-major, scaled to [0, 1] then (x - mean) / std',
      'fednode.input_mean': String(norm?.mean ?? 0),
      'fednode.input_std': String(norm?.std ?? 1),
    };
  }

  /** The seeded PyTorch-style initialisation (new Rng(seed) over the parameters in order). */
  initialParams(seed: number): ParamSet {
    const m = this.wholeGraph();
    const rng = new Rng(seed);
    const init = initParams(m.graph, () => rng.uniform());
    return ParamSet.fromTensors(m.graph.params.map((p) => ({ name: p.name, shape: p.shape as number[], data: init.get(p.name) as Float32Array })));
  }

  /** How many training rows the run uses (the first trainRows) and their labels (what partitions need). */
  private train(): { count: number; y: Uint8Array } {
    const t = sourceOf(this.dataset, 'train');
    const count = this.trainRows === undefined ? t.count : Math.min(this.trainRows, t.count);
    return { count, y: t.y.subarray(0, count) };
  }

  /** The last partition cut: the simulator asks for every share of one partition in turn. */
  private cut: { readonly key: string; readonly parts: Uint32Array[] } | null = null;

  private partition(shares: number, partition: PartitionSpec, seed: number): Uint32Array[] {
    const key = `${shares}/${JSON.stringify(partition)}/${seed}`;
    if (this.cut?.key === key) return this.cut.parts;
    const train = this.train();
    let parts: Uint32Array[];
    switch (partition.kind) {
      case 'iid':
        parts = iidPartition(train.count, shares, seed);
        break;
      case 'dirichlet':
        parts = dirichletPartition(train.y, shares, { alpha: partition.alpha, seed });
        break;
      case 'shards':
        parts = shardPartition(train.y, shares, { seed, ...(partition.perClient === undefined ? {} : { shardsPerClient: partition.perClient }) });
        break;
      default:
        throw new TaskError('TASK_DATA', `partition ${partition.kind} is for text; ${this.dataset} has ${IMAGE_PARTITIONS.join(', ')}`);
    }
    this.cut = { key, parts };
    return parts;
  }

  share(shares: number, index: number | null, partition: PartitionSpec, seed: number): DataShare {
    const train = this.train();
    if (!Number.isInteger(shares) || shares < 1 || shares > train.count) throw new TaskError('TASK_DATA', `${shares} shares of ${train.count} rows`);
    let rows: Uint32Array;
    if (index === null) rows = Uint32Array.from({ length: train.count }, (_, i) => i);
    else {
      if (!Number.isInteger(index) || index < 0 || index >= shares) throw new TaskError('TASK_DATA', `share ${index} is not in [0, ${shares})`);
      rows = this.partition(shares, partition, seed)[index];
    }
    // The share's pixels are read now and become floats when first trained on; its row j is
    // training row rows[j], so shuffling its rows draws the rows a shuffle of `rows` would.
    const source = sourceOf(this.dataset, 'train');
    const pixels = source.rows(rows);
    const norm = source.normalization();
    let own: Dataset | null = null;
    return datasetShare(() => (own ??= imageRows(pixels, norm)), rows.length, `${rows.length} rows of ${this.dataset}`);
  }

  testSet(limit?: number): EvalSet {
    const source = sourceOf(this.dataset, 'test');
    const n = limit === undefined ? source.count : Math.min(limit, source.count);
    let test = this.testRows.get(n);
    if (test === undefined) {
      // The first n rows only: the aggregator of a run evaluates on a few thousand.
      test = source.rows(Uint32Array.from({ length: n }, (_, i) => i));
      this.testRows.set(n, test);
    }
    const rows = test;
    const norm = sourceOf(this.dataset, 'train').normalization();
    return { count: rows.count, batches: () => mapIter(evalBatches(rows, norm), imageFeeds) };
  }
}


const SGD_DEFAULTS: LocalDefaults = { optimizer: { kind: 'sgd', momentum: 0.9 }, lr: 0.05, batch: 64, budget: { epochs: 1 }, schedule: { kind: 'cosine' } };

class MlpTask extends ImageTask {
  readonly name = 'mlp';
  readonly sliceAxes: readonly SliceAxis[] = ['width', 'depth'];
  readonly defaults = SGD_DEFAULTS;
  readonly specs;
  constructor(
    dataset: ImageDatasetName,
    trainRows: number | undefined,
    readonly config: MlpSupernetConfig,
  ) {
    super(dataset, trainRows);
    this.specs = mlpSubnetwork(config, { width: 1 }).build().graph.params.map((p) => ({ name: p.name, shape: p.shape as number[] }));
  }
  protected wholeGraph(): ModelGraph {
    return mlpSubnetwork(this.config, { width: 1 }).build();
  }
  subnet(spec: SubnetSpec = {}): Subnetwork {
    const s = normaliseSubnet(this.name, this.sliceAxes, spec, { depth: this.config.depth });
    const sub = mlpSubnetwork(this.config, { width: s.width ?? 1, ...(s.depth === undefined ? {} : { depth: s.depth }) });
    const whole = s.width === undefined && s.depth === undefined;
    return {
      label: subnetLabel(s),
      spec: s,
      slice: whole ? null : sub.slice,
      build: () => sub.build(),
      exportOnnx: (params, metadata = {}) => exportOnnx(sub.build(), params, { ...this.exportMetadata(), ...metadata }),
    };
  }
}

class CnnTask extends ImageTask {
  readonly name = 'cnn';
  readonly sliceAxes: readonly SliceAxis[] = [];
  readonly defaults = SGD_DEFAULTS;
  readonly specs = cnn().graph.params.map((p) => ({ name: p.name, shape: p.shape as number[] }));
  protected wholeGraph(): ModelGraph {
    return cnn();
  }
  subnet(spec: SubnetSpec = {}): Subnetwork {
    normaliseSubnet(this.name, this.sliceAxes, spec, {});
    return {
      label: 'the whole model',
      spec: {},
      slice: null,
      build: () => cnn(),
      exportOnnx: (params, metadata = {}) => exportOnnx(cnn(), params, { ...this.exportMetadata(), ...metadata }),
    };
  }
}

const int = (minimum: number) => ({ type: 'integer', minimum }) as const;

export const MLP_TASK: TaskFactory = {
  name: 'mlp',
  description: 'MNIST/Fashion-MNIST MLP 784-h-…-h-10 (default 784-200-200-10, the FedAvg paper\'s 2NN) as a supernet: slices by width and depth',
  datasets: ['mnist', 'fashion-mnist'],
  modelSchema: { type: 'object', additionalProperties: false, properties: { hidden: int(1), depth: int(1) } },
  create(o: TaskOptions): Task {
    const m = o.model ?? {};
    return new MlpTask(checkDataset('mlp', o.dataset), o.trainRows, { inputs: 784, hidden: m.hidden ?? 200, depth: m.depth ?? 2, classes: 10 });
  },
};

export const CNN_TASK: TaskFactory = {
  name: 'cnn',
  description: "MNIST/Fashion-MNIST CNN of the FedAvg paper (conv 32, pool, conv 64, pool, fc 512, fc 10), trained whole",
  datasets: ['mnist', 'fashion-mnist'],
  modelSchema: { type: 'object', additionalProperties: false, properties: {} },
  create(o: TaskOptions): Task {
    return new CnnTask(checkDataset('cnn', o.dataset), o.trainRows);
  },
};

/** The rows in order, EVAL_BATCH at a time, made floats as `imageRows` makes a share's. */
function* evalBatches(rows: PixelSplit, norm: Normalization | null): Generator<Batch> {
  for (let start = 0; start < rows.count; start += EVAL_BATCH) {
    const size = Math.min(EVAL_BATCH, rows.count - start);
    const ds = imageRows(rows, norm, Uint32Array.from({ length: size }, (_, i) => start + i));
    yield { size, x: ds.x, y: BigInt64Array.from(ds.y, (v) => BigInt(v)) };
  }
}
