import { TextError } from './errors.js';

/**
 * A character vocabulary. Id 0 is the unknown character; the others are the characters seen
 * at least `minCount` times, most frequent first (ties by code point), so ids are stable for
 * the same training text. Characters are Unicode code points, not UTF-16 units.
 */
export class CharVocab {
  readonly chars: readonly string[];
  private readonly ids: Map<string, number>;

  private constructor(chars: readonly string[]) {
    this.chars = Object.freeze(['\u0000', ...chars]);
    this.ids = new Map(chars.map((c, i) => [c, i + 1]));
  }

  /** Builds the vocabulary of `texts` (the training text: held-out characters are not peeked at). */
  static fromTexts(texts: Iterable<string>, opts: { minCount?: number; maxSize?: number } = {}): CharVocab {
    const minCount = opts.minCount ?? 1;
    if (!Number.isInteger(minCount) || minCount < 1) throw new TextError('TEXT_ARGUMENT', `minCount ${minCount} must be a positive integer`);
    const counts = new Map<string, number>();
    for (const t of texts) for (const ch of t) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    let chars = [...counts.entries()]
      .filter(([, n]) => n >= minCount)
      .sort((a, b) => b[1] - a[1] || a[0].codePointAt(0)! - b[0].codePointAt(0)!)
      .map(([c]) => c);
    // Ids are stored in Uint16Array; one slot is the unknown character.
    const cap = Math.min(opts.maxSize ?? 65535, 65535) - 1;
    if (chars.length > cap) chars = chars.slice(0, cap);
    return new CharVocab(chars);
  }

  /** A vocabulary from an explicit list (id i + 1 is chars[i]), e.g. one saved with a model. */
  static fromChars(chars: readonly string[]): CharVocab {
    if (new Set(chars).size !== chars.length) throw new TextError('TEXT_ARGUMENT', 'vocabulary characters repeat');
    return new CharVocab(chars);
  }

  /** Number of ids, the unknown character included: the model's vocabulary size. */
  get size(): number {
    return this.chars.length;
  }

  id(ch: string): number {
    return this.ids.get(ch) ?? 0;
  }

  encode(text: string): Uint16Array {
    const out = new Uint16Array(text.length); // at least as long as the code point count
    let n = 0;
    for (const ch of text) out[n++] = this.ids.get(ch) ?? 0;
    return out.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]] ?? this.chars[0];
    return s;
  }
}
