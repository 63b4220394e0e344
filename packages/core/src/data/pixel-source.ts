import { closeSync, openSync, readSync } from 'node:fs';
import type { Normalization } from './dataset.js';
import { DataError } from './errors.js';
import { readIdxHeader } from './idx.js';
import { loadImageSplit, pixelRows, pixelStatsOf, readLabels, splitFiles, unit, type ImageDatasetName, type LoadOptions, type PixelSplit } from './mnist.js';

/**
 * One split of an image dataset read as far as a process needs it: its labels, its pixel
 * statistics, and the bytes of the rows it uses. A trainer of one 32-way share of MNIST reads
 * 1.5 MB of pixels at their offsets and never holds the 47 MB file: bytes read whole stay
 * allocated until V8's next full collection, which an idle daemon may not have for minutes.
 * A gzipped file (Fashion-MNIST) has no offsets: it is read whole, held only while something
 * uses it, and rows are copied out of it.
 */

/** Bytes read per call while streaming the statistics. */
const CHUNK_ROWS = 1024;

export class PixelSource {
  readonly count: number;
  readonly features: number;
  readonly classes = 10;
  /** Every row's label (a copy of the labels file's values). */
  readonly y: Uint8Array;
  private stats: Normalization | null = null;
  private whole: WeakRef<PixelSplit> | null = null;

  private constructor(
    readonly dataset: ImageDatasetName,
    readonly split: 'train' | 'test',
    readonly name: string,
    private readonly images: string,
    /** Where the pixels start in the images file; null when it is gzipped. */
    private readonly offset: number | null,
    count: number,
    features: number,
    y: Uint8Array,
    private readonly opts: LoadOptions,
  ) {
    this.count = count;
    this.features = features;
    this.y = y;
  }

  static open(dataset: ImageDatasetName, split: 'train' | 'test', opts: LoadOptions = {}): PixelSource {
    const files = splitFiles(dataset, split, opts);
    const header = readIdxHeader(files.images);
    if (header === null) {
      const s = loadImageSplit(dataset, split, opts);
      const source = new PixelSource(dataset, split, s.name, files.images, null, s.count, s.features, s.y, opts);
      source.whole = new WeakRef(s);
      return source;
    }
    if (header.dims.length !== 3) throw new DataError('DATA_FORMAT', `${files.images}: images [${header.dims.join(', ')}] are not [count, rows, cols]`);
    const [count, rows, cols] = header.dims;
    const y = readLabels(files.labels, count, `${dataset} ${split}`);
    return new PixelSource(dataset, split, `${dataset}/${split}`, files.images, header.offset, count, rows * cols, y, opts);
  }

  /** The split's pixel statistics (of the [0, 1] values): `pixelStatsOf` over the whole split, in the same order. */
  normalization(): Normalization {
    if (this.stats !== null) return this.stats;
    if (this.offset === null) return (this.stats = pixelStatsOf(this.wholeSplit()));
    let sum = 0;
    let sq = 0;
    const buf = new Uint8Array(CHUNK_ROWS * this.features);
    const fd = openSync(this.images, 'r');
    try {
      for (let row = 0; row < this.count; row += CHUNK_ROWS) {
        const bytes = Math.min(CHUNK_ROWS, this.count - row) * this.features;
        this.readAt(fd, buf, bytes, this.offset + row * this.features);
        for (let i = 0; i < bytes; i++) {
          const v = unit(buf[i]);
          sum += v;
          sq += v * v;
        }
      }
    } finally {
      closeSync(fd);
    }
    const n = this.count * this.features;
    const mean = sum / n;
    const std = Math.sqrt(Math.max(sq / n - mean * mean, 0));
    this.stats = { mean, std: std > 0 ? std : 1 };
    return this.stats;
  }

  /** The rows at `indices`, in that order, as a split of their own. */
  rows(indices: ArrayLike<number>): PixelSplit {
    if (this.offset === null) return pixelRows(this.wholeSplit(), indices);
    const f = this.features;
    const pixels = new Uint8Array(indices.length * f);
    const y = new Uint8Array(indices.length);
    const fd = openSync(this.images, 'r');
    try {
      // Runs of consecutive rows are one read: the test rows and a whole split are a single run.
      for (let i = 0; i < indices.length; ) {
        const r = indices[i];
        let n = 1;
        while (i + n < indices.length && indices[i + n] === r + n) n++;
        if (!Number.isInteger(r) || r < 0 || r + n > this.count) throw new DataError('DATA_ARGUMENT', `rows: index ${r} is outside 0..${this.count - 1}`);
        this.readAt(fd, pixels.subarray(i * f, (i + n) * f), n * f, this.offset + r * f);
        for (let k = 0; k < n; k++) y[i + k] = this.y[r + k];
        i += n;
      }
    } finally {
      closeSync(fd);
    }
    return { name: this.name, count: indices.length, features: f, classes: this.classes, pixels, y };
  }

  private readAt(fd: number, into: Uint8Array, bytes: number, position: number): void {
    for (let done = 0; done < bytes; ) {
      const got = readSync(fd, into, done, bytes - done, position + done);
      if (got === 0) throw new DataError('DATA_FORMAT', `${this.images}: ends before its header says`);
      done += got;
    }
  }

  private wholeSplit(): PixelSplit {
    let s = this.whole?.deref();
    if (s === undefined) {
      s = loadImageSplit(this.dataset, this.split, this.opts);
      this.whole = new WeakRef(s);
    }
    return s;
  }
}
