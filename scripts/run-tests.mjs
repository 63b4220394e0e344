// Runs every *.test.ts under packages/*/test and test/ with node's test runner (tsx for TypeScript).
// Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const roots = ['test', ...readdirSync('packages').map((p) => join('packages', p, 'test'))];
const only = process.argv.slice(2);
function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}
let files = roots.flatMap((r) => walk(r, []));
if (only.length > 0) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
/**
 * Files that spend most of their time waiting (a 30 s network cut) run in a second lane beside
 * the rest: on 2 cores the runner takes one file at a time, and a file that sleeps would hold
 * the whole suite. The second lane's report is printed after the first's, so neither interleaves.
 */
const WAITING = ['test/browser/reconnect.test.ts', 'test/browser/peer-reconnect.test.ts'];
const waiting = files.filter((f) => WAITING.includes(f));
const main = files.filter((f) => !WAITING.includes(f));

function lane(list, buffered) {
  return new Promise((resolve) => {
    if (list.length === 0) return resolve({ code: 0, out: '' });
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...list], { stdio: ['ignore', buffered ? 'pipe' : 'inherit', buffered ? 'pipe' : 'inherit'] });
    let out = '';
    if (buffered) {
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
    }
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });
}

const [first, second] = await Promise.all([lane(main, false), lane(waiting, true)]);
if (second.out) process.stdout.write(`\n# second lane: ${waiting.join(', ')}\n${second.out}`);
process.exit(first.code !== 0 ? first.code : second.code);
