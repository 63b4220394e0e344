import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@fednode/kernels';
import {
  CharVocab,
  NgramModel,
  encodeCorpus,
  fillLeafBatch,
  fillLmBatch,
  fillLmWindows,
  leafSamples,
  loadMobyDick,
  loadSotu,
  normalizeWhitespace,
  samplePositions,
  splitSpeakers,
  windowCount,
} from '../src/text/index.js';

test('spec 10: a text of length L gives L − 80 LEAF samples with y_i = text[i + 80]', () => {
  const text = Array.from({ length: 200 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
  const { x, y } = leafSamples(text);
  assert.equal(x.length, 120);
  assert.equal(windowCount(200), 120);
  for (let i = 0; i < x.length; i++) {
    assert.equal(x[i], text.slice(i, i + 80));
    assert.equal(y[i], text[i + 80]);
  }
  assert.equal(leafSamples('short').x.length, 0);
  assert.equal(windowCount(50), 0);
});

test('encoded windows: LM targets are the inputs shifted by one, the last one the LEAF label', () => {
  const vocab = CharVocab.fromTexts(['abcabcabd']);
  const corpus = encodeCorpus([{ name: 'a', years: [], text: 'abcdefghij'.repeat(3) }, { name: 'b', years: [], text: 'xyz' }], CharVocab.fromTexts(['abcdefghijxyz']));
  assert.equal(vocab.decode(vocab.encode('abcq')), 'abc\u0000'); // q is unknown: id 0
  assert.equal(vocab.size, 5);
  // Most frequent first: a, b (3 each, by code point), then c, then d.
  assert.deepEqual(['a', 'b', 'c', 'd'].map((c) => vocab.id(c)), [1, 2, 3, 4]);
  const starts = samplePositions(corpus, 4);
  assert.equal(starts.length, 30 - 4); // the 3-character speaker is too short for a window
  const x = new BigInt64Array(2 * 4);
  const y = new BigInt64Array(2 * 4);
  fillLmWindows(corpus, [0, 7], 4, x, y);
  for (let i = 0; i < 2; i++) for (let t = 0; t < 3; t++) assert.equal(y[i * 4 + t], x[i * 4 + t + 1]);
  const lx = new BigInt64Array(2 * 4);
  const ly = new BigInt64Array(2);
  fillLeafBatch(corpus, [0, 7], 4, lx, ly);
  assert.deepEqual(lx, x);
  assert.equal(ly[0], y[3]);
  assert.equal(ly[1], y[7]);
  // Random windows never cross into the next speaker.
  const rx = new BigInt64Array(64 * 4);
  const ry = new BigInt64Array(64 * 4);
  fillLmBatch(corpus, 4, new Rng(1), rx, ry);
  const xyz = new Set(['x', 'y', 'z'].map((c) => BigInt(corpus.ids[corpus.segments[1].start + 'xyz'.indexOf(c)])));
  for (const v of ry) assert.ok(!xyz.has(v));
  assert.equal(samplePositions(corpus, 4, 5).length, 5);
});

test('SOTU: one speaker per president (43), addresses in year order; the 90/10 split per speaker', () => {
  const speakers = loadSotu();
  assert.equal(speakers.length, 43);
  assert.equal(speakers[0].name, 'George Washington');
  const cleveland = speakers.find((s) => s.name === 'Grover Cleveland');
  assert.ok(cleveland !== undefined && cleveland.years.includes(1885) && cleveland.years.includes(1893));
  for (const s of speakers) assert.ok(!/\s\s|\n/.test(s.text), `${s.name}: whitespace is collapsed`);
  const { train, heldOut } = splitSpeakers(speakers, 0.9);
  for (let i = 0; i < speakers.length; i++) {
    const n = [...speakers[i].text].length;
    assert.equal([...train[i].text].length, Math.floor(n * 0.9));
    assert.equal(train[i].text + heldOut[i].text, speakers[i].text);
  }
  const total = speakers.reduce((n, s) => n + s.text.length, 0);
  assert.ok(total > 10_000_000, `${total} characters`);
  assert.throws(() => splitSpeakers(speakers, 1), { code: 'TEXT_ARGUMENT' });
});

test('Moby-Dick loads as one speaker of about 1.2M characters', () => {
  const m = loadMobyDick();
  assert.ok(m.text.startsWith('ETYMOLOGY.'), m.text.slice(0, 40));
  assert.ok(m.text.length > 1_100_000 && m.text.length < 1_300_000, String(m.text.length));
  assert.ok(m.text.includes('Call me Ishmael.'));
  assert.equal(normalizeWhitespace(' a \n\n b\tc '), 'a b c');
});

test('n-gram baseline: predicts the most frequent continuation of the longest seen context', () => {
  const text = 'the cat sat on the mat. the cat sat on the hat. the cat ran.';
  const vocab = CharVocab.fromTexts([text]);
  const corpus = encodeCorpus([{ name: 's', years: [], text }], vocab);
  const m = NgramModel.train(corpus, { maxContext: 6 });
  const ids = vocab.encode('the cat s');
  assert.equal(vocab.decode([m.predict(ids, ids.length)]), 'a');
  const ids2 = vocab.encode('on the ');
  // 'on the ' is followed once by m and once by h: a tie goes to the lower id (the more frequent character).
  assert.equal(vocab.decode([m.predict(ids2, ids2.length)]), vocab.id('h') < vocab.id('m') ? 'h' : 'm');
  const uni = NgramModel.train(corpus, { maxContext: 0 });
  assert.equal(vocab.decode([uni.predict(ids, ids.length)]), ' ');
  assert.ok(m.accuracy(corpus, samplePositions(corpus, 10), 10) > 0.8);
});
