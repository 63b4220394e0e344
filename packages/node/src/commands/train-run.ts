import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { engine, extractSlice, resolveSlice, tasks, writeFileAtomic, type Task } from '@fednode/core';
import { UsageError } from '../cli-support.js';
import { saveTaskCheckpoint } from '../merge/train-checkpoint.js';

/**
 * What `fednode train` runs once its flags are parsed (commands/train.ts), loaded only then:
 * the task, the learner, the progress bar and the checkpoint writers.
 */

export interface TrainFlags {
  model: string;
  dataset?: string;
  epochs?: number;
  steps?: number;
  batch?: number;
  lr?: number;
  schedule?: engine.LrScheduleKind;
  slice?: string;
  timeLimit?: number;
  seed: number;
  limit?: number;
  evalLimit?: number;
  export?: string;
  out?: string;
  modelSize?: Record<string, number>;
  json: boolean;
  threads: number;
  provider: engine.ExecutionProvider;
}

export interface TrainResult {
  model: string;
  dataset: string;
  slice: string | null;
  epochs: number | null;
  steps: number;
  batch: number;
  lr: number;
  optimizer: string;
  schedule: engine.LrScheduleKind;
  seed: number;
  threads: number;
  provider: engine.ExecutionProvider;
  parameters: number;
  train_samples: number;
  train_loss: number;
  test_accuracy: number;
  test_loss: number;
  /** The held-out loss of the model before training (the seeded initialisation, or its slice). */
  initial_test_loss: number;
  test_examples: number;
  samples_per_second: number;
  /** Text tasks: predictions per second (every position of every window). */
  tokens_per_second: number | null;
  train_seconds: number;
  wall_seconds: number;
  export: string | null;
  /** The safetensors checkpoint written (`--out`), or null. */
  out: string | null;
  history: { step: number; train_loss: number; test_accuracy: number; test_loss: number }[];
}

/** The sub-network a `--slice` asks for: `width=0.5,depth=2`, `heads=2`, `experts=0,3`. */
export function parseSlice(spec: string): tasks.SubnetSpec {
  const out: { width?: number; depth?: number; heads?: number; experts?: number[] } = {};
  let last: string | null = null;
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key: string | null = eq < 0 ? last : part.slice(0, eq).trim();
    const value = eq < 0 ? part : part.slice(eq + 1).trim();
    const n = Number(value);
    if (key === null || value === '' || !Number.isFinite(n)) throw new UsageError(`--slice: cannot read "${part}" (use e.g. width=0.5,depth=2 or experts=0,3)`);
    if (key === 'experts') (out.experts ??= []).push(n);
    else if (key === 'width' || key === 'depth' || key === 'heads') {
      if (eq < 0) throw new UsageError(`--slice: ${key} takes one value`);
      out[key as 'width' | 'depth' | 'heads'] = n;
    } else throw new UsageError(`--slice: unknown key "${key}" (width, depth, heads or experts)`);
    last = key;
  }
  return out;
}

function round(x: number, digits: number): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

/** The task the flags name, with every flag that does not apply to it refused. */
function taskOfFlags(flags: TrainFlags): { task: Task; dataset: string } {
  const f = tasks.TASKS.get(flags.model)!;
  const dataset = flags.dataset ?? f.datasets[0];
  if (!f.datasets.includes(dataset)) throw new UsageError(`--model ${flags.model} trains on ${f.datasets.join(' or ')}: use --dataset ${f.datasets[0]}`);
  if (flags.epochs !== undefined && flags.steps !== undefined) throw new UsageError('--epochs and --steps: give one budget');
  let task: Task;
  try {
    task = tasks.createTask(flags.model, { dataset, ...(flags.limit === undefined ? {} : { trainRows: flags.limit }), ...(flags.modelSize === undefined ? {} : { model: flags.modelSize }) });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (flags.out !== undefined && flags.slice !== undefined) throw new UsageError('--out writes the whole model; a --slice is only part of it (use --export for the slice)');
  if (flags.limit !== undefined && task.kind !== 'image') throw new UsageError(`--limit cuts image rows; ${dataset} is text (use --steps or --time-limit for a quick run)`);
  return { task, dataset };
}

export async function train(flags: TrainFlags): Promise<TrainResult> {
  const started = performance.now();
  const { task, dataset } = taskOfFlags(flags);
  let sub: tasks.Subnetwork;
  try {
    sub = task.subnet(flags.slice === undefined ? {} : parseSlice(flags.slice));
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError(`--slice ${flags.slice}: ${(e as Error).message}`);
  }
  const d = task.defaults;
  const budget: tasks.TrainingBudget = flags.steps !== undefined ? { steps: flags.steps } : flags.epochs !== undefined ? { epochs: flags.epochs } : d.budget;
  const batch = flags.batch ?? d.batch;
  const lr = flags.lr ?? d.lr;
  const schedule: engine.LrScheduleSpec = flags.schedule === undefined || flags.schedule === d.schedule.kind ? d.schedule : { kind: flags.schedule };
  const share = task.share(1, null, { kind: 'iid' }, flags.seed);
  const total = tasks.budgetSteps(budget, share, batch);
  const evalEvery = 'epochs' in budget ? Math.ceil(share.examples / batch) : Math.max(1, Math.floor(total / 5));
  const test = task.testSet(flags.evalLimit);
  const human = !flags.json;
  const say = (line: string): void => {
    if (human) process.stdout.write(line + '\n');
  };
  const init = task.initialParams(flags.seed);
  const trainer = await tasks.createLearner(sub, { optimizer: d.optimizer, lr, seed: flags.seed, threads: flags.threads, provider: flags.provider, ...(d.clipGradNorm === undefined ? {} : { clipGradNorm: d.clipGradNorm }) });
  try {
    // A slice starts from its part of the whole model's seeded initialisation, as a participant would.
    const local = sub.slice === null ? init : extractSlice(init, resolveSlice(sub.slice, init.specs));
    await trainer.setParams(local);
    const initial = await trainer.evaluateBatches(test.batches());
    const parameters = trainer.specs.reduce((n, s) => n + s.shape.reduce((a, k) => a * k, 1), 0);
    say(
      `training ${task.name}${sub.slice === null ? '' : ` (${sub.label})`} on ${dataset} (${share.description}; held out ${test.count}): ` +
        `${'epochs' in budget ? `${budget.epochs} epoch(s)` : `${budget.steps} steps`} (${total} steps), batch ${batch}, ${d.optimizer.kind} lr ${lr} ${schedule.kind}, ` +
        `seed ${flags.seed}, ${parameters} parameters, ${flags.threads} thread(s), ${flags.provider}`,
    );
    const bar = human && process.stdout.isTTY === true ? new cliProgress.SingleBar({ format: 'step {value}/{total} [{bar}] loss {loss} | eta {eta_formatted}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic) : null;
    bar?.start(total, 0, { loss: '-' });
    const history: TrainResult['history'] = [];
    let ema = NaN;
    let windowLoss = 0;
    let windowSteps = 0;
    const report = await tasks.trainLocal(trainer, share, {
      budget,
      batch,
      lr,
      schedule,
      seed: flags.seed,
      ...(flags.timeLimit === undefined ? {} : { timeLimitS: flags.timeLimit }),
      onStep: (done, _total, loss) => {
        ema = Number.isNaN(ema) ? loss : 0.98 * ema + 0.02 * loss;
        windowLoss += loss;
        windowSteps++;
        if (done % 10 === 0) bar?.update(done, { loss: ema.toFixed(4) });
      },
      every: {
        steps: evalEvery,
        run: async (done) => {
          const e = await trainer.evaluateBatches(test.batches());
          const trainLoss = windowSteps === 0 ? 0 : windowLoss / windowSteps;
          windowLoss = 0;
          windowSteps = 0;
          history.push({ step: done, train_loss: round(trainLoss, 6), test_accuracy: e.accuracy, test_loss: round(e.loss, 6) });
          bar?.stop();
          say(`step ${done}/${total}  train loss ${trainLoss.toFixed(4)}  held-out accuracy ${e.accuracy.toFixed(4)}  loss ${e.loss.toFixed(4)}`);
          if (done < total) bar?.start(total, done, { loss: Number.isNaN(ema) ? '-' : ema.toFixed(4) });
        },
      },
    });
    bar?.stop();
    const last = history[history.length - 1];
    let exported: string | null = null;
    if (flags.export !== undefined) {
      exported = resolve(flags.export);
      const bytes = sub.exportOnnx(await trainer.params(), {
        ...(sub.slice === null ? {} : { 'fednode.slice': sub.label }),
        'fednode.test_accuracy': String(last?.test_accuracy ?? ''),
      });
      writeFileAtomic(exported, [bytes]);
      say(`exported ${exported} (${bytes.length} bytes, ONNX opset ${engine.OPSET})`);
    }
    let out: string | null = null;
    if (flags.out !== undefined) {
      out = resolve(flags.out);
      saveTaskCheckpoint(out, task, flags.modelSize ?? {}, await trainer.params());
      say(`wrote ${out}`);
    }
    const result: TrainResult = {
      model: task.name,
      dataset,
      slice: flags.slice ?? null,
      epochs: 'epochs' in budget ? budget.epochs : null,
      steps: report.steps,
      batch,
      lr,
      optimizer: d.optimizer.kind,
      schedule: schedule.kind,
      seed: flags.seed,
      threads: flags.threads,
      provider: flags.provider,
      parameters,
      train_samples: report.samples,
      train_loss: round(report.loss, 6),
      test_accuracy: last?.test_accuracy ?? 0,
      test_loss: last?.test_loss ?? 0,
      initial_test_loss: round(initial.loss, 6),
      test_examples: test.count,
      samples_per_second: Math.round(report.samples / report.seconds),
      tokens_per_second: task.kind === 'text' ? Math.round(report.targets / report.seconds) : null,
      train_seconds: round(report.seconds, 3),
      wall_seconds: round((performance.now() - started) / 1000, 3),
      export: exported,
      out,
      history,
    };
    say(`done: held-out accuracy ${result.test_accuracy.toFixed(4)}, loss ${result.test_loss.toFixed(4)}, ${result.samples_per_second} samples/s, ${result.wall_seconds.toFixed(1)} s wall`);
    return result;
  } finally {
    await trainer.close();
  }
}
