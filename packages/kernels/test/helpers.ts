import assert from 'node:assert/strict';
import { KernelError } from '../src/errors.js';

/** Asserts that `fn` throws a KernelError with `code` (and a message matching `pattern`). */
export function throwsCode(fn: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KernelError, `expected KernelError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

/** Deterministic pseudo-random floats in [-amp, amp) (a small LCG, independent of the kernels' generator). */
export function randomArray(n: number, seed: number, amp = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 31 - 1) * amp;
  }
  return a;
}
