import type { Scenario } from './scenario.js';
import type { RoundRecord, SimOptions, SimSummary } from './types.js';

/** What a run counted besides its records. */
export interface RunTotals {
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly clients: number;
  readonly peakRssBytes: number;
  /** Milliseconds spent in local training. */
  readonly trainMs: number;
  readonly wall0: number;
}

/** The summary every simulated run ends with: the last evaluation, totals, and the target's first crossing. */
export function summarizeRun(s: Scenario, opts: SimOptions, records: readonly RoundRecord[], t: RunTotals): SimSummary {
  const last = [...records].reverse().find((r) => r.accuracy !== null);
  const hit = s.target === undefined ? undefined : records.find((r) => r.accuracy !== null && r.accuracy >= s.target!.accuracy);
  const wall = (performance.now() - t.wall0) / 1000;
  return {
    scenario: s.run,
    label: opts.label ?? s.run,
    final_accuracy: last?.accuracy ?? 0,
    final_loss: last?.loss ?? 0,
    rounds: records.length,
    virtual_time_s: records.at(-1)?.virtual_time_s ?? 0,
    bytes_up: t.bytesUp,
    bytes_down: t.bytesDown,
    wall_time_s: wall,
    clients: t.clients,
    peak_rss_mb: Math.round(t.peakRssBytes / 2 ** 20),
    train_time_s: t.trainMs / 1000,
    overhead_share: wall > 0 ? Math.max(0, 1 - t.trainMs / 1000 / wall) : 0,
    time_to_target_s: hit?.virtual_time_s ?? null,
    bytes_up_to_target: hit?.bytes_up ?? null,
  };
}
