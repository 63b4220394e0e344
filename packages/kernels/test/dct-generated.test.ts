import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { UNROLLED_PATH, UNROLLED_SIZES, emitDctModule } from '../scripts/gen-dct.js';
import { UNROLLED_FORWARD, UNROLLED_INVERSE } from '../src/dct/unrolled.js';

test('committed unrolled.ts is exactly what the generator emits', () => {
  const committed = readFileSync(UNROLLED_PATH, 'utf8');
  const fresh = emitDctModule();
  // Compare lengths first so a mismatch message stays readable for a 400 kB file.
  assert.equal(committed.length, fresh.length, 'regenerate with: node --import tsx packages/kernels/scripts/gen-dct.ts');
  assert.ok(committed === fresh, 'regenerate with: node --import tsx packages/kernels/scripts/gen-dct.ts');
});

test('every power-of-two size 2..256 has a generated forward and inverse kernel', () => {
  assert.deepEqual(UNROLLED_SIZES, [2, 4, 8, 16, 32, 64, 128, 256]);
  for (const n of UNROLLED_SIZES) {
    assert.equal(typeof UNROLLED_FORWARD.get(n), 'function', `forward ${n}`);
    assert.equal(typeof UNROLLED_INVERSE.get(n), 'function', `inverse ${n}`);
  }
});

test('V8 optimises every generated kernel (a body too big for TurboFan runs ~20x slower)', () => {
  // Natives syntax is only accepted as a startup flag, so this runs in a child process.
  const script = `
    const m = await import(${JSON.stringify(new URL('../src/dct/unrolled.ts', import.meta.url).href)});
    const bad = [];
    for (const n of [2, 4, 8, 16, 32, 64, 128, 256]) for (const dir of ['Forward', 'Inverse']) {
      const f = m['dct' + n + dir];
      const a = new Float32Array(n), b = new Float32Array(n);
      %PrepareFunctionForOptimization(f);
      f(a, 0, 1, b, 0, 1); f(a, 0, 1, b, 0, 1);
      %OptimizeFunctionOnNextCall(f);
      f(a, 0, 1, b, 0, 1);
      if ((%GetOptimizationStatus(f) & 16) === 0) bad.push(n + dir); // 16: TurboFanned
    }
    console.log(JSON.stringify(bad));
  `;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop() ?? 'null'), []);
});
