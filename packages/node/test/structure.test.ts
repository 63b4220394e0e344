import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's shape: no import cycles among its modules (type-only imports included), and
 * the daemon roles and decentralised peers share the runtime shell (`runtime/`) instead of
 * reaching into each other.
 */

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Module -> the package modules it imports (relative specifiers, `.js` resolved to `.ts`). */
function importGraph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const deps: string[] = [];
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) deps.push(resolve(dirname(file), `${m[1]}.ts`));
    g.set(file, deps);
  }
  return g;
}

function cycles(g: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of g.get(n) ?? []) {
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d].map((p) => relative(SRC, p)));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of g.keys()) if (!state.has(n)) visit(n);
  return found;
}

test('packages/node has no import cycles', () => {
  const g = importGraph();
  assert.ok(g.size > 40, `read ${g.size} modules`);
  assert.deepEqual(cycles(g).map((c) => c.join(' -> ')), []);
});

test('peers and daemon roles share runtime/, never each other', () => {
  const crossing: string[] = [];
  for (const [file, deps] of importGraph()) {
    const from = relative(SRC, file).split('/')[0];
    for (const d of deps) {
      const to = relative(SRC, d).split('/')[0];
      if ((from === 'peer' && to === 'daemon') || (from === 'daemon' && to === 'peer')) crossing.push(`${relative(SRC, file)} -> ${relative(SRC, d)}`);
    }
  }
  assert.deepEqual(crossing, []);
});
