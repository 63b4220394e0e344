import { data } from '@fednode/core';
import { encodeShareFile } from '../browser-peer/share-file.js';
import { DaemonError } from '../runtime/errors.js';

/**
 * MNIST rows [from, to) of one split as a share file for a page. They are normalised with the
 * whole training split's statistics, as the run's dataset is, so the page's rows and the
 * daemons' are the same numbers.
 */
export function mnistShareFile(split: 'train' | 'test', [from, to]: readonly [number, number]): Uint8Array {
  const pixels = data.loadImagePixels('mnist');
  const count = pixels[split].count;
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= count)) throw new DaemonError('RUN_FILE', `rows ${from}:${to} are not a range of MNIST's ${count.toLocaleString('en')} ${split} rows`);
  return encodeShareFile(data.imageRows(pixels[split], pixels.normalization, Uint32Array.from({ length: to - from }, (_, i) => from + i)));
}
