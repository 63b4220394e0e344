import { TextError } from './errors.js';
import type { SpeakerText } from './corpora.js';

/**
 * The per-speaker held-out split: each speaker's first `trainFraction` of characters train,
 * the rest is held out. Held-out samples are windows of the held-out text alone, so no
 * held-out label is ever a training input or target (LEAF gets the same by starting its test
 * samples 79 windows after the last training one).
 */
export interface SpeakerSplit {
  readonly train: SpeakerText[];
  readonly heldOut: SpeakerText[];
}

export function splitSpeakers(speakers: readonly SpeakerText[], trainFraction = 0.9): SpeakerSplit {
  if (!(trainFraction > 0 && trainFraction < 1)) throw new TextError('TEXT_ARGUMENT', `trainFraction ${trainFraction} is not in (0, 1)`);
  const train: SpeakerText[] = [];
  const heldOut: SpeakerText[] = [];
  for (const s of speakers) {
    const chars = [...s.text];
    const cut = Math.floor(chars.length * trainFraction);
    train.push({ ...s, text: chars.slice(0, cut).join('') });
    heldOut.push({ ...s, text: chars.slice(cut).join('') });
  }
  return { train, heldOut };
}
