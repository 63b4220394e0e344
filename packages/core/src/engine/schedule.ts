/**
 * The one learning-rate schedule of every local training loop: an optional linear warm-up,
 * then constant or a cosine from the base rate down to base · minLrFraction. `progress` (in
 * [0, 1]) overrides the step-based position after warm-up, so a run bounded by wall time can
 * decay over its time budget instead of a step count it may not reach.
 */
export type LrScheduleKind = 'constant' | 'cosine';
export const LR_SCHEDULES: readonly LrScheduleKind[] = ['constant', 'cosine'];

export interface LrSchedule {
  readonly kind: LrScheduleKind;
  /** Steps of linear warm-up from base/warmupSteps to base (default 0). */
  readonly warmupSteps?: number;
  /** Where the cosine ends, as a fraction of the base rate (default 0). */
  readonly minLrFraction?: number;
}

export function learningRate(s: LrSchedule, base: number, step: number, total: number, progress?: number): number {
  const warm = s.warmupSteps ?? 0;
  if (step < warm) return (base * (step + 1)) / warm;
  if (s.kind === 'constant' || (total <= 1 && progress === undefined)) return base;
  const p = Math.min(1, progress ?? (step - warm) / Math.max(1, total - warm));
  const floor = s.minLrFraction ?? 0;
  return base * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
}
