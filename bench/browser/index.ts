/**
 * `browser.train.mlp.step`: samples/s of the MNIST MLP's training step in headless Chromium
 * (onnxruntime-web WASM, 2 threads when the page is cross-origin isolated, which the static
 * server's COOP/COEP headers make it) against the Node engine (onnxruntime-node in its worker,
 * 2 intra-op threads) in the same run. Both time the same loop (step-loop.ts: one awaited step
 * after another at batch 64), alternating. `detail` gives the page's rate on 1 thread, the
 * bundle's size, the .wasm the page fetched, and the renderer's peak resident memory.
 */
import { fileURLToPath } from 'node:url';
import { engine } from '@fednode/core';
import { median, round, type Bench, type BenchResult } from '../harness.js';
import { noChromium, openBundledPage, rendererPeakRss, type BrowserPage } from '../../test/browser/chromium.js';
import { syntheticBatch, timeSteps } from '../../test/browser/step-loop.js';
import type { StepPageApi, StepRunnerReport } from '../../test/browser/step-page.js';

const BATCH = 64;
const STEPS = 50;
const REPEATS = 5;
const THREADS = 2;
const PAGE = fileURLToPath(new URL('../../test/browser/step-page.ts', import.meta.url));

type Api = { fednodeStepPage: StepPageApi };

async function openStepPage(threads: number): Promise<{ page: BrowserPage; report: StepRunnerReport; run: () => Promise<number> }> {
  const page = await openBundledPage(PAGE);
  try {
    const report = await page.page.evaluate((o) => (globalThis as unknown as Api).fednodeStepPage.prepareSteps(o), { batch: BATCH, threads, warmSteps: STEPS });
    return { page, report, run: () => page.page.evaluate((n) => (globalThis as unknown as Api).fednodeStepPage.runSteps(n), STEPS) };
  } catch (e) {
    await page.close();
    throw e;
  }
}

/** Samples/s from the median seconds of STEPS steps. */
const rate = (seconds: number[]): number => BATCH / (median(seconds) / STEPS);

async function browserStepBench(): Promise<BenchResult> {
  const node = await engine.Trainer.create({ model: 'mlp', optimizer: { kind: 'sgd', momentum: 0.9 }, seed: 1, lr: 0.01, intraOpThreads: THREADS });
  try {
    const batch = syntheticBatch(BATCH);
    await timeSteps(node, batch, STEPS);
    // The page and Node alternate, so both see the same machine noise.
    const two = await openStepPage(THREADS);
    const web: number[] = [];
    const nodeS: number[] = [];
    let peak: number | null;
    try {
      for (let r = 0; r < REPEATS; r++) {
        web.push(await two.run());
        nodeS.push(await timeSteps(node, batch, STEPS));
      }
      peak = rendererPeakRss();
    } finally {
      await two.page.close();
    }
    // One thread too (onnxruntime-web fixes its threads per page): on a loaded 2-core machine the second WASM thread can cost more than it gives.
    const one = await openStepPage(1);
    const single: number[] = [];
    try {
      for (let r = 0; r < REPEATS; r++) single.push(await one.run());
    } finally {
      await one.page.close();
    }
    const wasm = [...two.page.received].filter(([path]) => path.endsWith('.wasm'));
    const webRate = rate(web);
    const nodeRate = rate(nodeS);
    return {
      name: 'browser.train.mlp.step',
      value: round(webRate),
      unit: 'samples/s',
      baseline: { name: 'node.train.mlp.step', value: round(nodeRate), unit: 'samples/s' },
      ratio: round(webRate / nodeRate),
      detail: {
        meaning: 'ratio = browser samples/s over the Node engine\'s, same model, batch, step loop and thread count, alternating in the same run',
        batch: BATCH,
        threads: two.report.threads,
        cross_origin_isolated: String(two.report.isolated),
        ms: round((median(web) / STEPS) * 1000),
        samples_per_s_1_thread: round(rate(single)),
        bundle_bytes: two.page.bundleBytes,
        wasm_file: wasm.map(([path]) => path.split('/').pop()).join(', '),
        wasm_bytes: wasm.reduce((n, [, b]) => n + b, 0),
        renderer_peak_rss_mb: peak === null ? 'unknown (no /proc)' : round(peak / 2 ** 20),
      },
    };
  } finally {
    await node.close();
  }
}

export const browserBenches: Bench[] = [{ group: 'browser', name: 'browser.train.mlp.step', skip: () => noChromium || null, run: browserStepBench }];
