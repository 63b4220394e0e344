/**
 * In-process calibration of decentralised DeMo / DiLoCo against one AdamW process on the
 * union of the data (no network: contributions are handed over directly). Usage:
 *   node --import tsx scripts/decentral-calibrate.ts demo|diloco|adamw [key=value ...]
 */
import { ParamSet, models } from '@fednode/core';
import { DemoSync, DilocoSync } from '@fednode/aggregator';
import { LmTask, lmData, transformerConfig, type LmTaskConfig } from '../packages/node/src/peer/lm-task.js';

const args = Object.fromEntries(process.argv.slice(3).map((a) => a.split('=')));
const num = (k: string, d: number): number => (args[k] === undefined ? d : Number(args[k]));
const mode = process.argv[2];
const peers = num('peers', 4);
const steps = num('steps', 300);
const batch = num('batch', 16);
const lr = num('lr', 3e-3);
const warm = num('warmup', 30);
const model: LmTaskConfig = { seqLen: num('seq', 64), dModel: num('d', 64), heads: 2, headDim: num('d', 64) / 2, ffDim: 4 * num('d', 64), layers: num('layers', 2) };
const seed = 1;
const evalSamples = num('eval', 2048);
const sched = (s: number) => models.lrAt(s, { lr, steps, warmupSteps: warm, minLrFraction: 0.1 });

async function main() {
  const t0 = performance.now();
  if (mode === 'adamw') {
    const all = lmData(peers, null);
    const config = transformerConfig(model, all.vocab.size);
    const r = await models.trainLanguageModel({ config, train: all.train, heldOut: all.heldOut, steps, batchSize: batch * peers, lr, warmupSteps: warm, minLrFraction: 0.1, seed, threads: 2, evalSamples, onLog: (l) => console.log(l) });
    console.log(JSON.stringify({ mode, heldOut: r.heldOut, s: (performance.now() - t0) / 1000 }));
    return;
  }
  const tasks = await Promise.all(Array.from({ length: peers }, (_, i) => LmTask.create({ model, shares: peers, share: i, batch, seed, evalSamples, threads: 2 }, mode === 'diloco' ? { weightDecay: 0.01 } : null)));
  const init = (await import('../packages/node/src/peer/lm-task.js')).initialParams(tasks[0].config, seed);
  if (mode === 'demo') {
    const params = tasks.map(() => init.clone());
    const syncs = tasks.map((t) => new DemoSync(t.specs, { beta: num('beta', 0.999), topk: num('topk', 32), topk1d: num('topk1d', 8), weightDecay: num('wd', 0), values: (args.values ?? 'fp16') as 'fp16' }));
    let bytes = 0;
    for (let s = 0; s < steps; s++) {
      const l = sched(s);
      const contributions = new Map<string, ReturnType<DemoSync['compress']>>();
      let loss = 0;
      for (let i = 0; i < peers; i++) {
        const g = await tasks[i].gradients(params[i]);
        loss += g.loss / peers;
        const c = syncs[i].compress(g.grads, l);
        if (i === 0) bytes = c.reduce((n, t) => n + t.payload.byteLength, 0);
        contributions.set(`peer${i}`, c);
      }
      for (let i = 0; i < peers; i++) syncs[i].apply(params[i], contributions, l);
      if ((s + 1) % 50 === 0) console.log(`step ${s + 1} loss ${loss.toFixed(4)} lr ${l.toExponential(2)} bytes/step ${bytes} (dense ${init.size * 4}) ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    const same = params.every((p) => Buffer.compare(Buffer.from(p.data.buffer), Buffer.from(params[0].data.buffer)) === 0);
    const ev = await tasks[0].evaluate(params[0]);
    console.log(JSON.stringify({ mode, heldOut: ev, identical: same, bytesPerStep: bytes, dense: init.size * 4, ratio: (init.size * 4) / bytes, s: (performance.now() - t0) / 1000 }));
  } else {
    const H = num('H', 20);
    const outer = Math.floor(steps / H);
    const syncs = tasks.map(() => new DilocoSync(init, { outerLr: num('olr', 0.7), outerMomentum: num('om', 0.9) }));
    const states = tasks.map((t) => t.innerState(init));
    let bytes = 0;
    let step = 0;
    for (let o = 0; o < outer; o++) {
      const contributions = new Map<string, ReturnType<DilocoSync['compress']>>();
      let loss = 0;
      for (let i = 0; i < peers; i++) {
        for (let h = 0; h < H; h++) loss = await tasks[i].innerStep(states[i], sched(step + h));
        const c = syncs[i].compress(tasks[i].innerParams(states[i]));
        if (i === 0) bytes = c.reduce((n, t) => n + t.payload.byteLength, 0);
        contributions.set(`peer${i}`, c);
      }
      step += H;
      for (let i = 0; i < peers; i++) {
        syncs[i].apply(contributions);
        const g = syncs[i].global;
        states[i].setParams(new Map(g.names().map((n) => [n, g.tensor(n)])));
      }
      console.log(`outer ${o + 1} step ${step} loss ${loss.toFixed(4)} bytes/outer ${bytes} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    const same = syncs.every((s) => Buffer.compare(Buffer.from(s.global.data.buffer), Buffer.from(syncs[0].global.data.buffer)) === 0);
    const ev = await tasks[0].evaluate(syncs[0].global);
    console.log(JSON.stringify({ mode, heldOut: ev, identical: same, bytesPerOuter: bytes, bytesPerStep: bytes / H, dense: init.size * 4, s: (performance.now() - t0) / 1000 }));
  }
}
void main();
