import type { SliceAxis, SubnetSpec } from './types.js';
import { TaskError } from './errors.js';

/** `the whole model`, or the axes asked for in a fixed order (`width 0.5, depth 1`). */
export function subnetLabel(spec: SubnetSpec): string {
  const parts: string[] = [];
  if (spec.width !== undefined) parts.push(`width ${spec.width}`);
  if (spec.heads !== undefined) parts.push(`heads ${spec.heads}`);
  if (spec.depth !== undefined) parts.push(`depth ${spec.depth}`);
  if (spec.experts !== undefined) parts.push(`experts ${spec.experts.join(',')}`);
  return parts.length === 0 ? 'the whole model' : parts.join(', ');
}

/**
 * The request with the axes that select everything dropped (width 1, full depth, all heads,
 * all experts), so one sub-network has one spelling; an axis the task lacks is refused.
 */
export function normaliseSubnet(task: string, axes: readonly SliceAxis[], spec: SubnetSpec, full: { depth?: number; heads?: number; experts?: number }): SubnetSpec {
  const bad = (Object.keys(spec) as (keyof SubnetSpec)[]).filter((k) => spec[k] !== undefined && !axes.includes(k));
  if (bad.length > 0) {
    const has = axes.length === 0 ? `${task} is trained whole (it has no slices)` : `${task} slices by ${axes.join(', ')}`;
    throw new TaskError('TASK_SLICE', `${bad.join(', ')} does not apply: ${has}`);
  }
  const out: { width?: number; depth?: number; heads?: number; experts?: readonly number[] } = {};
  if (spec.width !== undefined) {
    if (!(spec.width > 0 && spec.width <= 1)) throw new TaskError('TASK_SLICE', `width ${spec.width} is not in (0, 1]`);
    if (spec.width < 1) out.width = spec.width;
  }
  if (spec.depth !== undefined && spec.depth !== full.depth) out.depth = spec.depth;
  if (spec.heads !== undefined && spec.heads !== full.heads) out.heads = spec.heads;
  if (spec.experts !== undefined) {
    const ids = [...spec.experts].sort((a, b) => a - b);
    if (ids.length !== full.experts || ids.some((e, i) => e !== i)) out.experts = ids;
  }
  return out;
}
