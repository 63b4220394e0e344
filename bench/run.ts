/**
 * `npm run bench [-- --only GROUP[,GROUP]]`: runs the benchmarks and merges their results
 * into bench/results.json (entries of groups not run are kept).
 */
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Bench, BenchResult } from './harness.js';
import { kernelBenches } from './kernels/index.js';
import { codecBenches } from './codec/index.js';
import { aggregateBenches } from './aggregate/index.js';

const all: Bench[] = [...kernelBenches, ...codecBenches, ...aggregateBenches];
all.push(...(await import('./train/index.js')).trainBenches);
all.push(...(await import('./p2p/index.js')).p2pBenches);
all.push(...(await import('./browser/index.js')).browserBenches);

function parseOnly(argv: string[]): Set<string> | null {
  const groups: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') groups.push(...(argv[++i] ?? '').split(','));
    else if (argv[i].startsWith('--only=')) groups.push(...argv[i].slice(7).split(','));
    else throw new Error(`bench: unknown argument ${argv[i]} (use --only GROUP)`);
  }
  return groups.length ? new Set(groups.filter(Boolean)) : null;
}

const only = parseOnly(process.argv.slice(2));
const known = new Set(all.map((b) => b.group));
for (const g of only ?? []) {
  if (!known.has(g)) {
    console.error(`bench: unknown group "${g}"; groups: ${[...known].join(', ')}`);
    process.exit(2);
  }
}
const chosen = all.filter((b) => only === null || only.has(b.group));
const out = join(dirname(fileURLToPath(import.meta.url)), 'results.json');
const previous: BenchResult[] = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as BenchResult[]) : [];
const fresh = new Map<string, BenchResult>();

for (const b of chosen) {
  process.stderr.write(`${b.name} ... `);
  const why = b.skip?.() ?? null;
  if (why !== null) {
    process.stderr.write(`skipped: ${why}\n`);
    continue;
  }
  const r = await b.run();
  fresh.set(r.name, r);
  process.stderr.write(
    `${r.value} ${r.unit} vs ${r.baseline.name} ${r.baseline.value} ${r.baseline.unit} (ratio ${r.ratio})\n`,
  );
  (globalThis as { gc?: () => void }).gc?.();
}

const merged = [...previous.filter((r) => !fresh.has(r.name)), ...fresh.values()];
merged.sort((a, b) => a.name.localeCompare(b.name));
writeFileSync(out + '.tmp', JSON.stringify(merged, null, 2) + '\n');
renameSync(out + '.tmp', out);

const rows = [...fresh.values()].map((r) => ({
  name: r.name,
  value: `${r.value} ${r.unit}`,
  baseline: `${r.baseline.value} ${r.baseline.unit}`,
  ratio: r.ratio,
  ms: r.detail?.ms ?? '',
}));
console.table(rows);
console.log(`wrote ${out}`);
