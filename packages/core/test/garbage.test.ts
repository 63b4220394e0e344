import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { engine } from '../src/index.js';

const MB = 1 << 20;

/** The collections asked for by gc() (V8's own are not "forced") while `fn` runs, by kind. */
async function forcedCollections(fn: () => void): Promise<{ minor: number; major: number }> {
  const seen = { minor: 0, major: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const d = (e as unknown as { detail: { kind: number; flags: number } }).detail;
      if ((d.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) === 0) continue;
      if (d.kind === constants.NODE_PERFORMANCE_GC_MINOR) seen.minor++;
      if (d.kind === constants.NODE_PERFORMANCE_GC_MAJOR) seen.major++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  // Entries are delivered after the fact.
  await new Promise((r) => setTimeout(r, 100));
  obs.disconnect();
  return seen;
}

for (const kind of ['minor', 'full'] as const) {
  test(`GarbagePacer (${kind}): collects once the bytes counted reach its threshold, then counts again from zero`, async () => {
    const pacer = new engine.GarbagePacer(kind, 8 * MB);
    const want = kind === 'minor' ? { minor: 1, major: 0 } : { minor: 0, major: 1 };
    assert.deepEqual(await forcedCollections(() => {
      pacer.add(5 * MB);
      pacer.collectIfDue();
    }), { minor: 0, major: 0 }, 'below the threshold');
    assert.deepEqual(await forcedCollections(() => {
      pacer.add(3 * MB);
      pacer.collectIfDue();
      pacer.collectIfDue();
    }), want, 'at the threshold, once');
    assert.deepEqual(await forcedCollections(() => {
      pacer.add(7 * MB);
      pacer.collectIfDue();
    }), { minor: 0, major: 0 }, 'counting again from zero');
  });
}
