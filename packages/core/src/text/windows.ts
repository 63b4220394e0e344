import type { Rng } from '@fednode/kernels';
import { TextError } from './errors.js';
import type { SpeakerText } from './corpora.js';
import type { CharVocab } from './vocab.js';

/**
 * LEAF-style samples over encoded text. LEAF's Shakespeare sample i of a text is the window
 * x = text[i, i + 80) labelled with y = text[i + 80], so a text of length L gives L − 80
 * samples. Samples are kept as start offsets into the encoded text (materialising 80 ids per
 * sample would take 80 times the corpus), and batches are filled from the offsets.
 */

export const LEAF_SEQ_LEN = 80;

/** A speaker's encoded text inside a corpus: ids[start, end). */
export interface Segment {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** Several speakers' texts encoded back to back; no window crosses a segment boundary. */
export interface EncodedCorpus {
  readonly ids: Uint16Array;
  readonly segments: readonly Segment[];
}

export function encodeCorpus(speakers: readonly SpeakerText[], vocab: CharVocab): EncodedCorpus {
  const parts = speakers.map((s) => vocab.encode(s.text));
  const ids = new Uint16Array(parts.reduce((n, p) => n + p.length, 0));
  const segments: Segment[] = [];
  let at = 0;
  parts.forEach((p, i) => {
    ids.set(p, at);
    segments.push({ name: speakers[i].name, start: at, end: at + p.length });
    at += p.length;
  });
  return { ids, segments };
}

/** Number of LEAF samples of a text of `length` characters: max(0, length − seqLen). */
export function windowCount(length: number, seqLen = LEAF_SEQ_LEN): number {
  return Math.max(0, length - seqLen);
}

/** The LEAF samples of a short text, materialised (for tests and inspection). */
export function leafSamples(text: string, seqLen = LEAF_SEQ_LEN): { x: string[]; y: string[] } {
  const chars = [...text];
  const x: string[] = [];
  const y: string[] = [];
  for (let i = 0; i + seqLen < chars.length; i++) {
    x.push(chars.slice(i, i + seqLen).join(''));
    y.push(chars[i + seqLen]);
  }
  return { x, y };
}

/** Start offsets of every LEAF sample of the corpus (segment by segment), thinned to at most `max` evenly spaced ones. */
export function samplePositions(corpus: EncodedCorpus, seqLen = LEAF_SEQ_LEN, max = Infinity): Uint32Array {
  const total = corpus.segments.reduce((n, s) => n + windowCount(s.end - s.start, seqLen), 0);
  const take = Math.min(total, max);
  const out = new Uint32Array(take);
  if (take === 0) return out;
  // Sample k of the `total` is the j-th with j = floor(k * total / take): an even spread over speakers.
  let k = 0;
  let base = 0;
  for (const s of corpus.segments) {
    const n = windowCount(s.end - s.start, seqLen);
    while (k < take) {
      const j = Math.floor((k * total) / take);
      if (j >= base + n) break;
      out[k++] = s.start + (j - base);
    }
    base += n;
  }
  return out;
}

/**
 * Fills a classification batch of LEAF samples: x [B, seqLen] ids and y [B] next ids, from the
 * given start offsets.
 */
export function fillLeafBatch(corpus: EncodedCorpus, starts: ArrayLike<number>, seqLen: number, x: BigInt64Array, y: BigInt64Array): void {
  const b = starts.length;
  if (x.length !== b * seqLen || y.length !== b) throw new TextError('TEXT_ARGUMENT', `batch buffers do not fit ${b} samples of ${seqLen}`);
  const ids = corpus.ids;
  for (let i = 0; i < b; i++) {
    const o = starts[i];
    for (let t = 0; t < seqLen; t++) x[i * seqLen + t] = BigInt(ids[o + t]);
    y[i] = BigInt(ids[o + seqLen]);
  }
}

/**
 * Fills language-model windows from start offsets: x [B, seqLen] = ids[o, o + seqLen) and the
 * next-character targets y [B, seqLen] = ids[o + 1, o + seqLen + 1), whose last entry is the
 * LEAF label of the window.
 */
export function fillLmWindows(corpus: EncodedCorpus, starts: ArrayLike<number>, seqLen: number, x: BigInt64Array, y: BigInt64Array): void {
  const b = starts.length;
  if (x.length !== b * seqLen || y.length !== x.length) throw new TextError('TEXT_ARGUMENT', `batch buffers do not fit ${b} windows of ${seqLen}`);
  const ids = corpus.ids;
  for (let i = 0; i < b; i++) {
    const o = starts[i];
    if (o + seqLen >= ids.length) throw new TextError('TEXT_ARGUMENT', `window at ${o} runs past the corpus end`);
    for (let t = 0; t < seqLen; t++) {
      x[i * seqLen + t] = BigInt(ids[o + t]);
      y[i * seqLen + t] = BigInt(ids[o + t + 1]);
    }
  }
}

/**
 * Draws `count` random LEAF sample offsets (seeded): speakers in proportion to their sample
 * counts, so every sample of the corpus is equally likely.
 */
export function randomPositions(corpus: EncodedCorpus, seqLen: number, count: number, rng: Rng): Uint32Array {
  const cum = cumulativeSamples(corpus, seqLen);
  const total = cum[cum.length - 1];
  if (total === 0) throw new TextError('TEXT_ARGUMENT', `no segment is longer than ${seqLen} characters`);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const j = rng.uniformInt(total);
    // The segment holding global sample j: the first s with cum[s + 1] > j.
    let lo = 0;
    let hi = corpus.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid + 1] > j) hi = mid;
      else lo = mid + 1;
    }
    out[i] = corpus.segments[lo].start + (j - cum[lo]);
  }
  return out;
}

/** A language-model batch of random windows (see fillLmWindows and randomPositions). */
export function fillLmBatch(corpus: EncodedCorpus, seqLen: number, rng: Rng, x: BigInt64Array, y: BigInt64Array): void {
  const b = x.length / seqLen;
  if (!Number.isInteger(b)) throw new TextError('TEXT_ARGUMENT', `batch buffers do not fit windows of ${seqLen}`);
  fillLmWindows(corpus, randomPositions(corpus, seqLen, b, rng), seqLen, x, y);
}

const cumCache = new WeakMap<EncodedCorpus, Map<number, Float64Array>>();

function cumulativeSamples(corpus: EncodedCorpus, seqLen: number): Float64Array {
  let bySeq = cumCache.get(corpus);
  if (bySeq === undefined) {
    bySeq = new Map();
    cumCache.set(corpus, bySeq);
  }
  let cum = bySeq.get(seqLen);
  if (cum === undefined) {
    cum = new Float64Array(corpus.segments.length + 1);
    corpus.segments.forEach((s, i) => (cum![i + 1] = cum![i] + windowCount(s.end - s.start, seqLen)));
    bySeq.set(seqLen, cum);
  }
  return cum;
}
