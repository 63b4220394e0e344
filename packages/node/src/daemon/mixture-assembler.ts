/**
 * The aggregator's assembler for one-shot runs whose merge trains part of the merged model:
 * `method: { kind: moe }` makes the received dense transformers the experts of a mixture
 * (Branch-Train-MiX, as `fednode merge --method moe`) and trains its routers on the run's
 * training text of every speaker, the small mixed set the aggregator holds.
 */
import type { ModelAssembler, OneShotSection } from '@fednode/aggregator';
import type { Task, TensorSpec } from '@fednode/core';
import { assembleMixture, mixtureTask } from '../merge/expert-mixture.js';
import type { MergeTask } from '../merge/task-of.js';
import type { Logger } from '../runtime/log.js';
import { DaemonError } from '../runtime/errors.js';
import { taskOf, type RunFile } from './run-file.js';

export interface RunAssembler extends ModelAssembler {
  /** The task of a model `assemble` made, from its layout (after a restart too); null: not one of them. */
  taskOfLayout(specs: readonly TensorSpec[]): Task | null;
}

/**
 * The run's assembler. A run that asks for `moe` on a task it cannot assemble is refused here,
 * at the aggregator's start, not after every trainer has trained.
 */
export function runAssembler(run: RunFile, threads: number, log: Logger): RunAssembler {
  const dense = (): MergeTask => ({ task: taskOf(run), model: run.task.model ?? {} });
  // The schema checked the section: a one-shot one has its method.
  const method = run.strategy.kind === 'oneshot' ? (run.strategy as OneShotSection).method : undefined;
  if (method?.kind === 'moe') {
    try {
      mixtureTask(dense(), 2, 1);
    } catch (e) {
      throw new DaemonError('RUN_FILE', `strategy.method moe: ${(e as Error).message}`);
    }
  }
  return {
    methods: ['moe'],
    async assemble(m, inputs, _weights, signal) {
      // Experts are not weighed: each is one specialist; the shared layers are their plain average.
      const { kind: _kind, ...options } = m;
      const out = await assembleMixture(dense(), inputs, null, options, threads, (line) => log.log('info', 'oneshot.assembling', { method: m.kind, progress: line }), signal);
      const r = out.router;
      log.log('info', 'oneshot.assembled', { method: m.kind, experts: inputs.length, top_k: out.merged.model.topK, parameters: out.params.size, router_steps: r.steps, router_batch: r.batch, router_lr: r.lr, router_first_loss: r.firstLoss, router_last_loss: r.lastLoss });
      return out.params;
    },
    taskOfLayout(specs) {
      if (method?.kind !== 'moe') return null;
      const router = specs.find((s) => s.name.endsWith('.router.weight'));
      if (router === undefined) return null;
      const experts = router.shape[1];
      return mixtureTask(dense(), experts, method.topK ?? experts).task;
    },
  };
}
