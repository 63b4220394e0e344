import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import * as E from '../src/engine/index.js';
import { ParamSet, tasks } from '../src/index.js';
import { batches, head, loadMnist, subset } from '../src/data/index.js';

/**
 * The Trainer end to end on real MNIST (small, so the suite stays quick): one epoch of the MLP
 * on 12k rows must pass 90% test accuracy; runs are reproducible from the seed; parameters
 * round-trip through setParams/params; and the exported ONNX file, loaded by a plain
 * onnxruntime session, gives the engine's predictions on the whole test set.
 */

const mnist = loadMnist();
/** The MLP task on the first `rows` MNIST rows through the one local loop (cosine over the epochs). */
async function trainMlp(seed: number, rows = 12000, epochs = 1, lr = 0.05): Promise<{ trainer: E.Trainer; report: tasks.LocalTrainingReport }> {
  const task = tasks.createTask('mlp', { dataset: 'mnist', trainRows: rows });
  const trainer = await tasks.createLearner(task.subnet(), { optimizer: { kind: 'sgd', momentum: 0.9 }, seed, lr, threads: 2 });
  try {
    await trainer.setParams(task.initialParams(seed));
    const report = await tasks.trainLocal(trainer, task.share(1, null, { kind: 'iid' }, seed), { budget: { epochs }, batch: 64, lr, schedule: { kind: 'cosine' }, seed });
    return { trainer, report };
  } catch (e) {
    await trainer.close();
    throw e;
  }
}

test('trainer: one epoch of the MLP on 12k MNIST rows passes 90% test accuracy; export matches the engine', async () => {
  const { trainer, report } = await trainMlp(1);
  try {
    assert.equal(report.samples, 12000);
    assert.equal(report.steps, Math.ceil(12000 / 64));
    const ev = await trainer.evaluate(mnist.test);
    console.log(`# mlp, 1 epoch on 12k rows: test accuracy ${ev.accuracy}, loss ${ev.loss.toFixed(4)}, ${Math.round(report.samples / report.seconds)} samples/s`);
    assert.equal(ev.count, 10000);
    assert.ok(ev.accuracy > 0.9, `test accuracy ${ev.accuracy}`);
    assert.ok(ev.loss > 0 && ev.loss < 0.4, `test loss ${ev.loss}`);

    // The exported file in a plain onnxruntime session (not the engine's helpers or worker).
    const bytes = await trainer.exportOnnx({ metadata: { 'fednode.model': 'mlp' } });
    const plain = await ort.InferenceSession.create(bytes);
    assert.deepEqual(plain.inputNames, ['x']);
    assert.deepEqual(plain.outputNames, ['logits']);
    const engineLogits = await trainer.logits(mnist.test.x, mnist.test.count);
    const out = await plain.run({ x: new ort.Tensor('float32', mnist.test.x, [mnist.test.count, 784]) });
    const logits = out.logits.data as Float32Array;
    assert.equal(logits.length, engineLogits.length);
    let maxDiff = 0;
    let same = 0;
    let correct = 0;
    for (let r = 0; r < mnist.test.count; r++) {
      const a = argmax(logits, r);
      if (a === argmax(engineLogits, r)) same++;
      if (a === mnist.test.y[r]) correct++;
      for (let c = 0; c < 10; c++) maxDiff = Math.max(maxDiff, Math.abs(logits[r * 10 + c] - engineLogits[r * 10 + c]));
    }
    assert.equal(same, mnist.test.count, 'every prediction matches');
    assert.ok(maxDiff < 1e-4, `logits differ by ${maxDiff}`);
    assert.equal(correct / mnist.test.count, ev.accuracy);
  } finally {
    await trainer.close();
  }
});

function argmax(logits: Float32Array, row: number): number {
  let best = 0;
  for (let c = 1; c < 10; c++) if (logits[row * 10 + c] > logits[row * 10 + best]) best = c;
  return best;
}

test('trainer: the same seed gives the same parameters; another seed does not', async () => {
  const a = await trainMlp(7, 640);
  const b = await trainMlp(7, 640);
  const c = await trainMlp(8, 640);
  try {
    const [pa, pb, pc] = await Promise.all([a.trainer.params(), b.trainer.params(), c.trainer.params()]);
    assert.deepEqual(pa.data, pb.data);
    assert.notDeepEqual(pa.data, pc.data);
  } finally {
    await Promise.all([a.trainer.close(), b.trainer.close(), c.trainer.close()]);
  }
});

test('trainer: setParams/params round-trip, optimiser reset, a shared executor, and typed errors', async () => {
  const executor = E.Executor.create({ intraOpThreads: 1 });
  try {
    const opts = { model: 'mlp' as const, optimizer: { kind: 'adamw' as const }, seed: 3, lr: 1e-3, executor };
    const t1 = await E.Trainer.create(opts);
    const t2 = await E.Trainer.create({ ...opts, seed: 4 });
    const global = await t1.params();
    assert.deepEqual(global.names(), ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']);
    // A federated round: both trainers load the global model and take the same steps.
    await t2.setParams(global);
    assert.deepEqual((await t2.params()).data, global.data);
    const data = subset(mnist.train, [1, 2, 3, 4, 5, 6, 7, 8]);
    for (const t of [t1, t2]) for (const b of batches(data, { batchSize: 4, seed: 1 })) await t.step(b);
    assert.equal(t1.stepCount, 2);
    const [p1, p2] = await Promise.all([t1.params(), t2.params()]);
    assert.deepEqual(p1.data, p2.data);
    assert.notDeepEqual(p1.data, global.data);
    await t1.setParams(global);
    assert.equal(t1.stepCount, 0);

    const isCode = (code: E.EngineErrorCode) => (e: unknown) => e instanceof E.EngineError && e.code === code;
    await assert.rejects(t1.setParams(ParamSet.zeros([{ name: 'w', shape: [2] }])), isCode('ENGINE_SHAPE'));
    await assert.rejects(t1.step({ size: 2, x: new Float32Array(3), y: new BigInt64Array(2) }), isCode('ENGINE_SHAPE'));
    await assert.rejects(E.Trainer.create({ ...opts, lr: 0 }), isCode('ENGINE_OP'));
    await t1.close();
    assert.throws(() => t1.step({ size: 1, x: new Float32Array(784), y: new BigInt64Array(1) }), isCode('ENGINE_STATE'));
    // Closing one trainer leaves the shared executor to the other.
    assert.ok((await t2.evaluate(head(mnist.test, 100))).count === 100);
    await t2.close();
  } finally {
    await executor.close();
  }
});

test('trainer: a diverging run fails with one clear line', async () => {
  await assert.rejects(trainMlp(1, 640, 1, 1e6), (e: unknown) => e instanceof E.EngineError && e.code === 'ENGINE_RUN' && /diverged/.test(e.message));
});
