/**
 * The aggregator's assembler for one-shot runs whose merge trains part of the merged model:
 * `method: { kind: moe }` makes the received dense transformers the experts of a mixture
 * (Branch-Train-MiX, as `fednode merge --method moe`) and trains its routers on the run's
 * training text of every speaker, the small mixed set the aggregator holds.
 */
import type { ModelAssembler } from '@fednode/aggregator';
import type { Task, TensorSpec } from '@fednode/core';
import { assembleMixture, mixtureTask, type RouterTraining } from '../merge/expert-mixture.js';
import type { MergeTask } from '../merge/task-of.js';
import type { Logger } from '../runtime/log.js';
import { taskOf, type RunFile } from './run-file.js';

export interface RunAssembler extends ModelAssembler {
  /** The task of a model `assemble` made, from its layout (after a restart too); null: not one of them. */
  taskOf(specs: readonly TensorSpec[]): Task | null;
  /** The router training of the last assembly, for the merge's report. */
  readonly lastRouter: RouterTraining | null;
}

export function runAssembler(run: RunFile, threads: number, log: Logger): RunAssembler {
  const dense = (): MergeTask => ({ task: taskOf(run), model: run.task.model ?? {} });
  const method = run.strategy.method as { readonly kind?: string; readonly topK?: number } | undefined;
  let lastRouter: RouterTraining | null = null;
  return {
    methods: ['moe'],
    get lastRouter() {
      return lastRouter;
    },
    async assemble(m, inputs) {
      const { kind: _kind, ...options } = m;
      const out = await assembleMixture(dense(), inputs, null, options, threads, (line) => log.log('info', 'oneshot.assembling', { method: m.kind, progress: line }));
      lastRouter = out.router;
      const r = out.router;
      log.log('info', 'oneshot.assembled', { method: m.kind, experts: inputs.length, top_k: out.merged.model.topK, parameters: out.params.size, router_steps: r.steps, router_batch: r.batch, router_lr: r.lr, router_first_loss: r.firstLoss, router_last_loss: r.lastLoss });
      return out.params;
    },
    taskOf(specs) {
      if (method?.kind !== 'moe') return null;
      const router = specs.find((s) => s.name.endsWith('.router.weight'));
      if (router === undefined) return null;
      const experts = router.shape[1];
      return mixtureTask(dense(), experts, method.topK ?? experts).task;
    },
  };
}
