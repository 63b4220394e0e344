/**
 * In-process calibration of decentralised DeMo / DiLoCo against one AdamW process on the
 * union of the data (no network: contributions are handed over directly). Usage:
 *   node --import tsx scripts/decentral-calibrate.ts demo|diloco|adamw [key=value ...]
 */
import { engine, tasks } from '@fednode/core';
import { DemoSync, DilocoSync } from '@fednode/aggregator';
import { PeerTask, checkPeerRunFile, peerTaskOf, type PeerRunFile } from '@fednode/node';

const args = Object.fromEntries(process.argv.slice(3).map((a) => a.split('=')));
const num = (k: string, d: number): number => (args[k] === undefined ? d : Number(args[k]));
const mode = process.argv[2];
const peers = num('peers', 4);
const steps = num('steps', 300);
const batch = num('batch', 16);
const lr = num('lr', 3e-3);
const warm = num('warmup', 30);
const d = num('d', 64);
const run: PeerRunFile = checkPeerRunFile({
  run: 'calibrate',
  mode: 'decentralised',
  // In-process only: nothing listens, so nobody could join.
  admission: 'open',
  seed: num('seed', 1),
  task: { name: 'transformer', dataset: 'sotu', model: { seqLen: num('seq', 64), dModel: d, heads: 2, headDim: d / 2, ffDim: 4 * d, layers: num('layers', 2) } },
  data: { partition: { kind: 'natural' }, shares: peers, evalSamples: num('eval', 2048) },
  sync: { algorithm: mode === 'diloco' ? 'diloco' : 'demo', steps, batch, lr, warmupSteps: warm, ...(mode === 'diloco' ? { diloco: { innerSteps: num('H', 20) } } : {}) },
});
const schedule: engine.LrScheduleSpec = { kind: 'cosine', warmupSteps: warm, minLrFraction: num('minlr', 0.1) };
const sched = (s: number) => engine.learningRate(schedule, lr, s, steps);

/**
 * The DiLoCo paper's protocol: every method continues from one checkpoint pretrained by AdamW
 * on the union (`warmStart` steps at the peers' combined batch, lr 0.008, cosine, 100 warm-up),
 * so the comparison is the same steps after a shared start.
 */
async function startingPoint(): Promise<ReturnType<ReturnType<typeof peerTaskOf>['initialParams']>> {
  const task = peerTaskOf(run);
  const init = task.initialParams(run.seed);
  const n = num('warmStart', 0);
  if (n === 0) return init;
  const t = await tasks.createLearner(task.subnet(), { optimizer: { kind: 'adamw', weightDecay: 0.01 }, lr: 0.008, seed: run.seed + 7, clipGradNorm: 1, threads: 2 });
  await t.setParams(init);
  const warmSchedule: engine.LrScheduleSpec = { kind: 'cosine', warmupSteps: 100, minLrFraction: 0.1 };
  await tasks.trainLocal(t, task.share(1, null, run.data.partition, run.seed + 7), { budget: { steps: n }, batch: batch * peers, lr: 0.008, schedule: warmSchedule, seed: run.seed + 7 });
  const p = await t.params();
  console.log(`warm start: ${n} steps, held-out ${JSON.stringify(await t.evaluateBatches(task.testSet(run.data.evalSamples).batches()))}`);
  await t.close();
  return p;
}

async function main() {
  const t0 = performance.now();
  const start = await startingPoint();
  if (mode === 'adamw') {
    const task = peerTaskOf(run);
    const t = await tasks.createLearner(task.subnet(), { optimizer: { kind: 'adamw', weightDecay: 0.01 }, lr, seed: run.seed, clipGradNorm: 1, threads: 2 });
    await t.setParams(start);
    await tasks.trainLocal(t, task.share(1, null, run.data.partition, run.seed), { budget: { steps }, batch: batch * peers, lr, schedule, seed: run.seed });
    console.log(JSON.stringify({ mode, heldOut: await t.evaluateBatches(task.testSet(run.data.evalSamples).batches()), s: (performance.now() - t0) / 1000 }));
    await t.close();
    return;
  }
  const ts = await Promise.all(Array.from({ length: peers }, (_, i) => PeerTask.create(run, { shard: i, inner: mode === 'diloco' ? { weightDecay: 0.01 } : null, threads: 2 })));
  const init = start;
  if (mode === 'demo') {
    const params = ts.map(() => init.clone());
    const syncs = ts.map((t) => new DemoSync(t.specs, { beta: num('beta', 0.999), topk: num('topk', 32), topk1d: num('topk1d', 8), weightDecay: num('wd', 0), values: (args.values ?? 'fp16') as 'fp16' }));
    let bytes = 0;
    for (let s = 0; s < steps; s++) {
      const l = sched(s);
      const contributions = new Map<string, ReturnType<DemoSync['compress']>>();
      let loss = 0;
      for (let i = 0; i < peers; i++) {
        const g = await ts[i].gradients(params[i]);
        loss += g.loss / peers;
        const c = syncs[i].compress(g.grads, l);
        if (i === 0) bytes = c.reduce((n, t) => n + t.payload.byteLength, 0);
        contributions.set(`peer${i}`, c);
      }
      for (let i = 0; i < peers; i++) syncs[i].apply(params[i], contributions, l);
      if ((s + 1) % 50 === 0) console.log(`step ${s + 1} loss ${loss.toFixed(4)} lr ${l.toExponential(2)} bytes/step ${bytes} (dense ${init.size * 4}) ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    const same = params.every((p) => Buffer.compare(Buffer.from(p.data.buffer), Buffer.from(params[0].data.buffer)) === 0);
    const ev = await ts[0].evaluate(params[0]);
    console.log(JSON.stringify({ mode, heldOut: ev, identical: same, bytesPerStep: bytes, dense: init.size * 4, ratio: (init.size * 4) / bytes, s: (performance.now() - t0) / 1000 }));
  } else {
    const H = num('H', 20);
    const outer = Math.floor(steps / H);
    // `dcodec=int4|int8 block=B`: blockwise pseudo-gradients; `dcodec=auto topk=K values=fp16|sign`:
    // DCT top-k pseudo-gradients (dense int8 for 1-D tensors).
    const codec =
      args.dcodec === undefined
        ? {}
        : args.dcodec === 'int4' || args.dcodec === 'int8'
          ? { codec: { codec: args.dcodec, blockSize: num('block', 256) } }
          : { codec: { codec: args.dcodec as 'auto', topk: num('topk', 32), values: (args.values ?? 'fp16') as 'fp16' } };
    const config = { outerLr: num('olr', 0.7), outerMomentum: num('om', 0.9), ...codec };
    const syncs = ts.map(() => new DilocoSync(init, config));
    ts.forEach((t) => t.restartInner(init, false));
    let bytes = 0;
    let step = 0;
    const lastInner: ReturnType<typeof init.clone>[] = [];
    for (let o = 0; o < outer; o++) {
      const contributions = new Map<string, ReturnType<DilocoSync['compress']>>();
      let loss = 0;
      for (let i = 0; i < peers; i++) {
        for (let h = 0; h < H; h++) loss = await ts[i].innerStep(sched(step + h));
        const inner = await ts[i].innerParams();
        if (o === outer - 1) lastInner.push(inner.clone());
        const c = syncs[i].compress(inner);
        if (i === 0) bytes = c.reduce((n, t) => n + t.payload.byteLength, 0);
        contributions.set(`peer${i}`, c);
      }
      step += H;
      // As the runtime does by default, the last outer step lands on the peers' average
      // (`final=outer` for a Nesterov step there too); the other choice is evaluated beside it.
      const last = o === outer - 1;
      const average = args.final !== 'outer';
      if (last) {
        const other = new DilocoSync(init, config);
        other.adopt(syncs[0].shared());
        other.apply(contributions, !average);
        console.log(`last outer step as ${average ? 'a Nesterov step' : 'the average'}: ${JSON.stringify(await ts[0].evaluate(other.global))}`);
      }
      for (let i = 0; i < peers; i++) {
        syncs[i].apply(contributions, last && average);
        ts[i].restartInner(syncs[i].global, true);
      }
      console.log(`outer ${o + 1} step ${step} loss ${loss.toFixed(4)} bytes/outer ${bytes} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    const same = syncs.every((s) => Buffer.compare(Buffer.from(s.global.data.buffer), Buffer.from(syncs[0].global.data.buffer)) === 0);
    const ev = await ts[0].evaluate(syncs[0].global);
    // The plain average of the peers' last inner models, for comparison with the outer step's result.
    if (lastInner.length > 0) {
      const avg = lastInner[0].clone();
      for (let j = 0; j < avg.data.length; j++) avg.data[j] = lastInner.reduce((a, p) => a + p.data[j], 0) / lastInner.length;
      console.log(`plain average of the last inner models: ${JSON.stringify(await ts[0].evaluate(avg))}`);
    }
    console.log(JSON.stringify({ mode, heldOut: ev, identical: same, bytesPerOuter: bytes, bytesPerStep: bytes / H, dense: init.size * 4, s: (performance.now() - t0) / 1000 }));
  }
  await Promise.all(ts.map((t) => t.close()));
}
void main();
