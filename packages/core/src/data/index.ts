/** Datasets from installed packages, normalisation, seeded batches and partitioners. */
export { DataError, type DataErrorCode } from './errors.js';
export { parseIdx, readIdxFile, readIdxHeader, type IdxArray } from './idx.js';
export { head, labelCounts, normalize, pixelStats, subset, type Dataset, type Normalization } from './dataset.js';
export {
  FASHION_MNIST_DIR,
  IMAGE_DATASETS,
  loadFashionMnist,
  imageRows,
  loadImageDataset,
  loadImagePixels,
  loadImageSplit,
  pixelRows,
  loadMnist,
  mnistDir,
  type ImageDatasetName,
  type ImageSplits,
  type LoadOptions,
  type PixelSplit,
  type PixelSplits,
} from './mnist.js';
export { PixelSource } from './pixel-source.js';
export { batchCount, batches, type Batch, type BatchOptions } from './batches.js';
export {
  checkPartition,
  dirichletPartition,
  iidPartition,
  shardPartition,
  type DirichletOptions,
  type Partition,
  type ShardOptions,
} from './partition.js';
