import { TextError } from './errors.js';
import type { EncodedCorpus } from './windows.js';

/**
 * A count-based character n-gram predictor, the baseline next to the transformer: for each
 * context length c = 1..maxContext it counts (last c characters, next character) over the
 * training text, and predicts the most frequent next character of the longest context seen
 * at least `minCount` times (backing off to shorter contexts, and at c = 0 to the most frequent
 * character). Counting sorts one 52-bit key per position and order (a hash of the context
 * times 256 plus the next id), so memory stays at a few arrays of the corpus length rather
 * than a map per context. Hash collisions between contexts are possible and negligible at
 * 2^44 buckets.
 */

const BUCKETS = 2 ** 44;
// Odd (a bijection modulo a power of two) and small enough that h * MULT stays below 2^53.
const MULT = 257;

/** One context length's table: sorted context hashes and their most frequent next id. */
interface OrderTable {
  readonly context: Float64Array;
  readonly best: Uint16Array;
  readonly total: Uint32Array;
}

export interface NgramOptions {
  /** Longest context in characters (an n-gram of order maxContext + 1). */
  maxContext: number;
  /** A context must have been seen this many times to be used. Default 1. */
  minCount?: number;
}

export class NgramModel {
  readonly maxContext: number;
  readonly minCount: number;
  private readonly tables: OrderTable[];
  private readonly unigram: number;

  private constructor(maxContext: number, minCount: number, tables: OrderTable[], unigram: number) {
    this.maxContext = maxContext;
    this.minCount = minCount;
    this.tables = tables;
    this.unigram = unigram;
  }

  static train(corpus: EncodedCorpus, opts: NgramOptions): NgramModel {
    const { maxContext } = opts;
    const minCount = opts.minCount ?? 1;
    if (!Number.isInteger(maxContext) || maxContext < 0 || maxContext > 64) throw new TextError('TEXT_ARGUMENT', `maxContext ${maxContext} is not in [0, 64]`);
    const ids = corpus.ids;
    for (let i = 0; i < ids.length; i++) if (ids[i] > 255) throw new TextError('TEXT_ARGUMENT', 'the n-gram baseline needs a vocabulary of at most 256 ids');
    const freq = new Float64Array(256);
    for (const s of corpus.segments) for (let p = s.start; p < s.end; p++) freq[ids[p]]++;
    let unigram = 0;
    for (let c = 1; c < 256; c++) if (freq[c] > freq[unigram]) unigram = c;
    const tables: OrderTable[] = [];
    for (let c = 1; c <= maxContext; c++) tables.push(countOrder(corpus, c));
    return new NgramModel(maxContext, minCount, tables, unigram);
  }

  /** The predicted next id after ids[from, at) (only the last maxContext ids are used). */
  predict(ids: ArrayLike<number>, at: number, from = 0): number {
    for (let c = Math.min(this.maxContext, at - from); c >= 1; c--) {
      const t = this.tables[c - 1];
      const k = find(t.context, contextHash(ids, at - c, at));
      if (k >= 0 && t.total[k] >= this.minCount) return t.best[k];
    }
    return this.unigram;
  }

  /**
   * Accuracy on LEAF samples: for each start offset o, the prediction after ids[o, o + seqLen)
   * against ids[o + seqLen].
   */
  accuracy(corpus: EncodedCorpus, starts: ArrayLike<number>, seqLen: number): number {
    let hits = 0;
    for (let i = 0; i < starts.length; i++) {
      const o = starts[i];
      if (this.predict(corpus.ids, o + seqLen, o) === corpus.ids[o + seqLen]) hits++;
    }
    return starts.length === 0 ? 0 : hits / starts.length;
  }
}

function contextHash(ids: ArrayLike<number>, from: number, to: number): number {
  let h = 0;
  for (let p = from; p < to; p++) {
    h = h * MULT + ids[p] + 1;
    h -= Math.floor(h / BUCKETS) * BUCKETS;
  }
  return h;
}

function countOrder(corpus: EncodedCorpus, c: number): OrderTable {
  const ids = corpus.ids;
  let n = 0;
  for (const s of corpus.segments) n += Math.max(0, s.end - s.start - c);
  const keys = new Float64Array(n);
  let k = 0;
  for (const s of corpus.segments) {
    for (let p = s.start + c; p < s.end; p++) keys[k++] = contextHash(ids, p - c, p) * 256 + ids[p];
  }
  keys.sort();
  // Runs of equal context (key / 256), and within them runs of equal next id.
  const context: number[] = [];
  const best: number[] = [];
  const total: number[] = [];
  let i = 0;
  while (i < n) {
    const ctx = Math.floor(keys[i] / 256);
    let sum = 0;
    let bestId = 0;
    let bestCount = 0;
    while (i < n && Math.floor(keys[i] / 256) === ctx) {
      const key = keys[i];
      let run = 0;
      while (i < n && keys[i] === key) {
        run++;
        i++;
      }
      sum += run;
      if (run > bestCount) {
        bestCount = run;
        bestId = key - ctx * 256;
      }
    }
    context.push(ctx);
    best.push(bestId);
    total.push(sum);
  }
  return { context: Float64Array.from(context), best: Uint16Array.from(best), total: Uint32Array.from(total) };
}

function find(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid];
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
