import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { data, engine } from '@fednode/core';
import { noChromium, openBundledPage } from './chromium.js';
import type { StepPageApi, StepProbe } from './step-page.js';

/**
 * The training engine in headless Chromium: the same Trainer, autodiff and training graph as
 * Node's, run by onnxruntime-web (WASM) in the page. One step from the same seed on the same
 * MNIST batch must give Node's parameters, and further steps must lower the loss.
 */

const PAGE = fileURLToPath(new URL('./step-page.ts', import.meta.url));
const SEED = 7;
const LR = 0.05;
const STEPS = 8;

test('an MLP step in headless Chromium (onnxruntime-web) equals the Node engine\'s and the loss falls', { skip: noChromium, timeout: 120_000 }, async () => {
  const pixels = data.loadImagePixels('mnist', { normalize: 'unit' });
  const rows = data.imageRows(pixels.train, null, Array.from({ length: 64 }, (_, i) => i));
  const batch: data.Batch = { size: rows.count, x: rows.x, y: BigInt64Array.from(rows.y, (v) => BigInt(v)) };

  const node = await engine.Trainer.create({ model: 'mlp', optimizer: { kind: 'sgd', momentum: 0.9 }, seed: SEED, lr: LR, intraOpThreads: 1 });
  let nodeFirst: Float32Array;
  const nodeLosses: number[] = [];
  try {
    nodeLosses.push(await node.step(batch));
    nodeFirst = (await node.params()).data;
  } finally {
    await node.close();
  }

  const browser = await openBundledPage(PAGE);
  try {
    const probe: StepProbe = { seed: SEED, lr: LR, steps: STEPS, threads: 1, x64: Buffer.from(rows.x.buffer, rows.x.byteOffset, rows.x.byteLength).toString('base64'), y: [...rows.y] };
    const r = await browser.page.evaluate((p) => (globalThis as unknown as { fednodeStepPage: StepPageApi }).fednodeStepPage.probe(p), probe);
    assert.equal(r.provider, 'wasm');
    assert.equal(r.isolated, true, 'the static server sends COOP/COEP, so the page is cross-origin isolated');
    const bytes = Buffer.from(r.paramsAfterFirst64, 'base64');
    const web = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    assert.equal(web.length, nodeFirst.length);
    let maxDiff = 0;
    let moved = 0;
    for (let i = 0; i < web.length; i++) maxDiff = Math.max(maxDiff, Math.abs(web[i] - nodeFirst[i]));
    // The same initial parameters (same seed) moved by the same gradient: most weights changed.
    const init = await engine.Trainer.create({ model: 'mlp', optimizer: { kind: 'sgd', momentum: 0.9 }, seed: SEED, lr: LR, intraOpThreads: 1 });
    try {
      const p0 = (await init.params()).data;
      for (let i = 0; i < web.length; i++) if (web[i] !== p0[i]) moved++;
    } finally {
      await init.close();
    }
    assert.ok(maxDiff < 1e-5, `browser and Node parameters after one step differ by up to ${maxDiff}`);
    assert.ok(moved > web.length / 10, `only ${moved} of ${web.length} parameters moved in the step`);
    assert.ok(Math.abs(r.losses[0] - nodeLosses[0]) < 1e-5, `first-step loss: browser ${r.losses[0]}, Node ${nodeLosses[0]}`);
    for (let i = 1; i < r.losses.length; i++) assert.ok(r.losses[i] < r.losses[i - 1], `loss rose at step ${i + 1}: ${r.losses.join(', ')}`);
  } finally {
    await browser.close();
  }
});
