import { tasks, type ParamSet, type Task } from '@fednode/core';
import type { Progress } from './methods.js';

/**
 * Held-out accuracy and loss of several models, each on its task's test data (image tasks:
 * the test split's rows; text tasks: the next character after windows of every speaker's
 * held-out text, whose loss is the next-character cross-entropy). One learner per task.
 */
export interface EvalRow {
  readonly label: string;
  readonly accuracy: number;
  readonly loss: number;
  readonly examples: number;
}

export interface ToEvaluate {
  readonly label: string;
  readonly task: Task;
  readonly params: ParamSet;
}

export async function evaluateModels(models: readonly ToEvaluate[], o: { limit?: number; threads: number; progress: Progress }): Promise<EvalRow[]> {
  const rows = new Array<EvalRow>(models.length);
  const byTask = new Map<Task, tasks.EvalSet>();
  for (const m of models) if (!byTask.has(m.task)) byTask.set(m.task, m.task.testSet(o.limit));
  for (const [task, test] of byTask) {
    const learner = await tasks.createLearner(task.subnet(), { optimizer: task.defaults.optimizer, lr: task.defaults.lr, seed: 0, threads: o.threads });
    try {
      for (const [i, m] of models.entries()) {
        if (m.task !== task) continue;
        o.progress(`evaluating ${m.label} on ${test.count} held-out examples`);
        await learner.setParams(m.params);
        const e = await learner.evaluateBatches(test.batches());
        rows[i] = { label: m.label, accuracy: e.accuracy, loss: e.loss, examples: e.count };
      }
    } finally {
      await learner.close();
    }
  }
  return rows;
}

/** The rows as an aligned text table. */
export function formatTable(rows: readonly EvalRow[]): string {
  const width = Math.max(5, ...rows.map((r) => r.label.length));
  const lines = [`${'model'.padEnd(width)}  accuracy    loss`];
  for (const r of rows) lines.push(`${r.label.padEnd(width)}  ${r.accuracy.toFixed(4).padStart(8)}  ${r.loss.toFixed(4).padStart(6)}`);
  return lines.join('\n');
}
