/**
 * Why a Branch-Train-MiX mixture does or does not beat its specialists' average: held-out loss,
 * split by era, of the dense base, each specialist, their parameter average, two bounds and
 * the mixtures named (the same 2048 windows as `fednode merge --eval`, so the "all" column is
 * the figure the merge prints). The bounds: each specialist on its own era (the oracle), and
 * the average with specialist e's feed-forwards on era e (what the assembled mixture gives
 * under perfect top-1 routing: its attention, embeddings and head are the average's).
 *   node --import tsx scripts/moe-probe.ts DIR [mixture.safetensors ...]
 * DIR is a `scripts/merge-check.ts moe --dir DIR` folder (sotu-base, sotu-expert0..3; the
 * mixture defaults to sotu-moe.safetensors).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mergeAverage } from '@fednode/aggregator';
import { tasks, text, type ParamSet, type Task, type engine } from '@fednode/core';
import { eraShares, readCheckpoint } from '@fednode/node';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: moe-probe.ts DIR [mixture.safetensors ...] (DIR from scripts/merge-check.ts moe --dir DIR)');
// merge-check's text model (importing merge-check would run it).
const LM = { seqLen: 64, dModel: 64, heads: 4, headDim: 16, ffDim: 256, layers: 2 };
const dense = tasks.createTask('transformer', { dataset: 'sotu', model: LM });
const { heldOut } = tasks.textData('sotu');
const t = LM.seqLen;
const starts = text.samplePositions(heldOut, t, 2048);
const eras = eraShares(dense, 4).map((e) => new Set(e.speakers));
const eraOf = (o: number): number => {
  const seg = heldOut.segments.find((s) => o >= s.start && o < s.end)!;
  return eras.findIndex((s) => s.has(seg.name));
};
const byEra = [0, 1, 2, 3].map((e) => starts.filter((o) => eraOf(o) === e));

function* batches(part: Uint32Array): Generator<engine.FeedBatch> {
  for (let i = 0; i < part.length; i += 256) {
    const p = part.subarray(i, Math.min(part.length, i + 256));
    const x = new BigInt64Array(p.length * t);
    const y = new BigInt64Array(p.length * t);
    text.fillLmWindows(heldOut, p, t, x, y);
    yield { size: p.length, feeds: { x: { dtype: 'int64', dims: [p.length, t], data: x }, y: { dtype: 'int64', dims: [p.length, t], data: y } } };
  }
}

async function perEra(task: Task, params: ParamSet): Promise<number[]> {
  const l = await tasks.createLearner(task.subnet(), { optimizer: task.defaults.optimizer, lr: task.defaults.lr, seed: 0, threads: 2 });
  try {
    await l.setParams(params);
    const out: number[] = [];
    for (const part of byEra) out.push((await l.evaluateBatches(batches(part))).loss);
    return out;
  } finally {
    await l.close();
  }
}

const fmt = (xs: number[]): string => {
  const all = xs.reduce((a, v, e) => a + v * byEra[e].length, 0) / starts.length;
  return xs.map((v) => v.toFixed(4)).join('  ') + `  | all ${all.toFixed(4)}`;
};
console.log(`windows per era: ${byEra.map((b) => b.length).join(', ')}`);
const read = (f: string): ParamSet => readCheckpoint(join(dir, f)).params;
const experts = [0, 1, 2, 3].map((i) => read(`sotu-expert${i}.safetensors`));
const rows: [string, number[]][] = [];
rows.push(['base', await perEra(dense, read('sotu-base.safetensors'))]);
for (const [i, p] of experts.entries()) rows.push([`specialist ${i}`, await perEra(dense, p)]);
rows.push(['average', await perEra(dense, mergeAverage(experts))]);
const oracle = [0, 1, 2, 3].map((e) => rows[1 + e][1][e]);
rows.push(['oracle (specialist e on era e)', oracle]);
// Averaged shared layers with specialist e's feed-forwards: the mixture under perfect top-1 routing.
const avg = mergeAverage(experts);
const hybrids: number[] = [];
for (const [e, p] of experts.entries()) {
  const h = avg.clone();
  for (const s of h.specs) if (s.name.includes('.ff.')) h.tensor(s.name).set(p.tensor(s.name));
  hybrids.push((await perEra(dense, h))[e]);
}
rows.push(['avg shared + ff e on era e', hybrids]);
for (const f of process.argv.slice(3).length > 0 ? process.argv.slice(3) : ['sotu-moe.safetensors']) {
  if (!existsSync(join(dir, f))) continue;
  const c = readCheckpoint(join(dir, f));
  const model = JSON.parse(c.metadata['fednode.model']) as Record<string, number>;
  const moe = tasks.createTask('moe-transformer', { dataset: 'sotu', model });
  rows.push([f, await perEra(moe, c.params)]);
}
for (const [label, xs] of rows) console.log(`${label.padEnd(32)} ${fmt(xs)}`);
