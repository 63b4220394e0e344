/**
 * `browser.train.mlp.step`: samples/s of the MNIST MLP's training step in headless Chromium
 * (onnxruntime-web WASM, 2 threads when the page is cross-origin isolated, which the static
 * server's COOP/COEP headers make it) against the Node engine (onnxruntime-node in its worker,
 * 2 intra-op threads) in the same run. Both time the same loop: one awaited step after another
 * at batch 64. `detail` gives the bundle's size, the .wasm the page fetched, and the renderer's
 * peak resident memory.
 */
import { fileURLToPath } from 'node:url';
import { engine, type Batch } from '@fednode/core';
import { median, round, type Bench, type BenchResult } from '../harness.js';
import { noChromium, openBundledPage, rendererPeakRss } from '../../test/browser/chromium.js';
import type { StepPageApi, ThroughputReport } from '../../test/browser/step-page.js';

const BATCH = 64;
const STEPS = 50;
const REPEATS = 5;
const THREADS = 2;
const PAGE = fileURLToPath(new URL('../../test/browser/step-page.ts', import.meta.url));

async function nodeSamplesPerS(): Promise<number> {
  const trainer = await engine.Trainer.create({ model: 'mlp', optimizer: { kind: 'sgd', momentum: 0.9 }, seed: 1, lr: 0.01, intraOpThreads: THREADS });
  try {
    const x = new Float32Array(BATCH * 784).map((_, i) => ((i * 2654435761) >>> 0) / 4294967296);
    const batch: Batch = { size: BATCH, x, y: BigInt64Array.from({ length: BATCH }, (_, i) => BigInt(i % 10)) };
    const run = async (): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < STEPS; i++) await trainer.step(batch);
      return (performance.now() - t0) / 1000;
    };
    await run();
    const times: number[] = [];
    for (let r = 0; r < REPEATS; r++) times.push(await run());
    return BATCH / (median(times) / STEPS);
  } finally {
    await trainer.close();
  }
}

/** The page's step rate on `threads` WASM threads (onnxruntime-web fixes them per page, so each count gets a page). */
async function pageRate(threads: number): Promise<{ web: ThroughputReport; bundleBytes: number; received: ReadonlyMap<string, number>; peak: number | null }> {
  const page = await openBundledPage(PAGE);
  try {
    const web = await page.page.evaluate(
      (o) => (globalThis as unknown as { fednodeStepPage: StepPageApi }).fednodeStepPage.throughput(o),
      { batch: BATCH, steps: STEPS, repeats: REPEATS, threads },
    );
    return { web, bundleBytes: page.bundleBytes, received: new Map(page.received), peak: rendererPeakRss() };
  } finally {
    await page.close();
  }
}

async function browserStepBench(): Promise<BenchResult> {
  const { web, bundleBytes, received, peak } = await pageRate(THREADS);
  // One thread too: on a loaded 2-core machine the second WASM thread can cost more than it gives.
  const single = (await pageRate(1)).web;
  const node = await nodeSamplesPerS();
  const wasm = [...received].filter(([path]) => path.endsWith('.wasm'));
  return {
    name: 'browser.train.mlp.step',
    value: round(web.samplesPerS),
    unit: 'samples/s',
    baseline: { name: 'node.train.mlp.step', value: round(node), unit: 'samples/s' },
    ratio: round(web.samplesPerS / node),
    detail: {
      meaning: 'ratio = browser samples/s over the Node engine\'s, same model, batch and thread count, in the same run',
      batch: BATCH,
      threads: web.threads,
      cross_origin_isolated: String(web.isolated),
      ms: round(web.msPerStep),
      samples_per_s_1_thread: round(single.samplesPerS),
      bundle_bytes: bundleBytes,
      wasm_file: wasm.map(([path]) => path.split('/').pop()).join(', '),
      wasm_bytes: wasm.reduce((n, [, b]) => n + b, 0),
      renderer_peak_rss_mb: peak === null ? 'unknown (no /proc)' : round(peak / 2 ** 20),
    },
  };
}

export const browserBenches: Bench[] = [{ group: 'browser', name: 'browser.train.mlp.step', skip: noChromium, run: browserStepBench }];
