/** Text datasets: SOTU per president and Moby-Dick, a character vocabulary, LEAF windows, the per-speaker split and an n-gram baseline. */
export { TextError, type TextErrorCode } from './errors.js';
export { loadSotu, loadMobyDick, normalizeWhitespace, type SpeakerText } from './corpora.js';
export { CharVocab } from './vocab.js';
export {
  LEAF_SEQ_LEN,
  encodeCorpus,
  fillLeafBatch,
  fillLmBatch,
  fillLmWindows,
  randomPositions,
  leafSamples,
  samplePositions,
  windowCount,
  type EncodedCorpus,
  type Segment,
} from './windows.js';
export { splitSpeakers, type SpeakerSplit } from './split.js';
export { NgramModel, type NgramOptions } from './ngram.js';
