import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's shape: no import cycles among its modules (type-only imports included), and
 * the daemon roles and decentralised peers share the runtime shell (`runtime/`) instead of
 * reaching into each other, and only the process shell (`runtime/shell.ts`, with the run's network
 * in `runtime/run-net.ts`) builds the parts of
 * a node's process, so a runtime that copies them is caught.
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

/** What makes a node's process; the shell is its one builder. */
const PROCESS_PARTS = ['createHost', 'nodeIdentity', 'new Admission', 'readPsk', 'joinControl', 'serveStatus', 'serveMetrics'];
/** The process shell, and the run's network it opens (run-net.ts, which a browser peer opens too). */
const SHELL = ['runtime/shell.ts', 'runtime/run-net.ts'];
/**
 * `fednode status` asks a node as a throwaway client: its own host, and the run's key to prove
 * it a member; nothing served. A browser trainer is such a client too (it dials out, listens on
 * nothing and serves no protocol), in a page where the process shell's files and servers are not.
 */
const ELSEWHERE: Readonly<Record<string, readonly string[]>> = {
  createHost: ['commands/status-run.ts', 'browser-peer/trainer.ts'],
  readPsk: ['commands/status-run.ts'],
  'new Admission': ['commands/status-run.ts', 'browser-peer/trainer.ts'],
};

/** `file: part` for each call of a process part, comments and the parts' own definitions left out. */
function processPartCalls(): string[] {
  const call = new RegExp(`(?<!function )\\b(${PROCESS_PARTS.join('|')})\\s*\\(`, 'g');
  const found: string[] = [];
  for (const file of sources(SRC)) {
    const rel = relative(SRC, file);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const code = line.trim();
      if (code.startsWith('*') || code.startsWith('/*') || code.startsWith('//')) continue;
      for (const m of code.matchAll(call)) found.push(`${rel}: ${m[1]}`);
    }
  }
  return found;
}

test('only the process shell builds identity, host, admission, gossip control, status and metrics', () => {
  const calls = processPartCalls();
  const shell = new Set(calls.map((c) => c.split(': ')).filter(([file]) => SHELL.includes(file)).map(([, part]) => part));
  // The shell must still make every part: a renamed or moved call must not empty this test.
  assert.deepEqual([...shell].sort(), [...PROCESS_PARTS].sort());
  const strays = calls.filter((c) => {
    const [file, part] = c.split(': ');
    return !SHELL.includes(file) && !(ELSEWHERE[part] ?? []).includes(file);
  });
  assert.deepEqual(strays, []);
});

test('fault injection is out of reach of the installed CLI: nothing under src reads FEDNODE_FAULT', () => {
  const readers = sources(SRC).filter((f) => /env(\.|\[['"])FEDNODE_FAULT/.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f));
  assert.deepEqual(readers, []);
});

/**
 * What a module loads with it: its value imports and re-exports (`import type` and `await
 * import(...)` left out), as package-relative paths for the package's own modules and as
 * specifiers for the rest.
 */
function staticImports(file: string): string[] {
  const found: string[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?'([^']+)'/gm)) {
    if (m[1] !== undefined) continue;
    found.push(m[2].startsWith('.') ? relative(SRC, resolve(dirname(file), m[2].replace(/\.js$/, '.ts'))) : m[2]);
  }
  return found;
}

/** The CLI's own modules and the leaves its flags need; everything else loads when a command runs. */
const CLI_MODULE = /^(cli[a-z-]*\.ts|commands\/[a-z-]+\.ts|merge\/method-names\.ts)$/;
/** commander, and core for train's registries (its tasks and learning-rate schedules). */
const CLI_PACKAGE = /^(node:|commander$|@fednode\/core$)/;

test('fednode --help and a bad flag load no runtime: libp2p, the daemons, the simulator and the merges load when their command runs', () => {
  const seen = new Set<string>();
  const stray: string[] = [];
  const visit = (mod: string): void => {
    for (const dep of staticImports(join(SRC, mod))) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      const local = dep.endsWith('.ts');
      if (local ? !CLI_MODULE.test(dep) : !CLI_PACKAGE.test(dep)) stray.push(`${mod} -> ${dep}`);
      else if (local) visit(dep);
    }
  };
  visit('cli.ts');
  // The walk must reach every command's flags: a moved entry point must not empty this test.
  assert.ok(seen.has('commands/start.ts') && seen.has('commands/train.ts') && seen.has('commands/merge.ts'), [...seen].join(', '));
  assert.deepEqual(stray, []);
});
