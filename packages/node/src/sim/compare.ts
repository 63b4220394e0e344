/**
 * A real run against the simulator's prediction of it, round by round: how long each round
 * took and how many bytes it moved (up and down), measured and predicted, and the mean
 * absolute relative error of each over the rounds both have.
 */
import { esc, lineChart } from './report.js';
import type { Calibration, Comparison, RoundComparison, RoundRecord } from './types.js';

/** Each round's own duration and bytes from the cumulative records. */
function perRound(rs: readonly RoundRecord[]): { s: number; bytes: number }[] {
  return rs.map((r, i) => {
    const prev = i === 0 ? null : rs[i - 1];
    return { s: r.virtual_time_s - (prev?.virtual_time_s ?? 0), bytes: r.bytes_up + r.bytes_down - (prev === null ? 0 : prev.bytes_up + prev.bytes_down) };
  });
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const mare = (pairs: readonly [number, number][]): number => (pairs.length === 0 ? 0 : pairs.reduce((a, [m, p]) => a + Math.abs(m - p) / m, 0) / pairs.length);

export function compareRounds(measured: readonly RoundRecord[], predicted: readonly RoundRecord[], calibration: Calibration): Comparison {
  const m = perRound(measured);
  const p = perRound(predicted);
  const rounds = m.slice(0, p.length).map((x, i) => ({ round: i, measured_s: x.s, predicted_s: p[i].s, measured_bytes: x.bytes, predicted_bytes: p[i].bytes }));
  // Round r + 1 closes with version r + 1: the versions that calibrated are not judged.
  const after = rounds.filter((r) => r.round > 0 && !calibration.versions.includes(r.round + 1));
  const judged = after.length > 0 ? after : rounds.filter((r) => calibration.versions.includes(r.round + 1));
  return {
    calibration,
    rounds,
    round_time_error: mare(judged.map((r) => [r.measured_s, r.predicted_s])),
    mean_round_time_error: mare([[sum(judged.map((r) => r.measured_s)), sum(judged.map((r) => r.predicted_s))]]),
    predicted_rounds: judged.map((r) => r.round + 1),
    in_sample: after.length === 0,
    bytes_error: mare([[sum(rounds.map((r) => r.measured_bytes)), sum(rounds.map((r) => r.predicted_bytes))]]),
  };
}

/** The report's section: both curves of round time and of bytes, and the errors. */
export function comparisonSection(label: string, c: Comparison): string {
  const curve = (name: string, y: (r: RoundComparison) => number) => ({ name, points: c.rounds.map((r): [number, number] => [r.round + 1, y(r)]) });
  const k = c.calibration;
  return `<h2>${esc(label)}: measured against predicted</h2>
<p class="desc">Round time: mean absolute relative error ${(c.round_time_error * 100).toFixed(1)}%, mean round time ${(c.mean_round_time_error * 100).toFixed(1)}% off, over rounds ${c.predicted_rounds.join(', ')}${c.in_sample ? ' (in-sample: the run had no rounds left after the calibration)' : ''}. Bytes of the whole run: ${(c.bytes_error * 100).toFixed(1)}% off. Calibrated on rounds ${k.versions.join(', ')} (even rounds calibrate, odd ones after the first, which overlaps the daemons' start-up, are predicted): ${k.steps} steps of ${(k.step_s * 1000).toFixed(2)} ms and an encoding of ${(k.encode_s * 1000).toFixed(0)} ms per update (the slowest of ${k.trainers} trainer daemons on ${k.cores} cores; a step alone takes ${(k.solo_step_s * 1000).toFixed(2)} ms), and ${(k.overhead_s * 1000).toFixed(0)} ms per update outside the modelled transfers and compute, counted as latency. Measured bytes are what the shaped links carried (IP, TCP, noise, yamux and status polls included); predicted, the payloads and a fixed header.</p>
<div class="charts">
${lineChart(`${label}: time per round`, 'round', 'seconds', [curve('measured', (r) => r.measured_s), curve('predicted', (r) => r.predicted_s)])}
${lineChart(`${label}: bytes per round (up and down)`, 'round', 'MB', [curve('measured', (r) => r.measured_bytes / 1e6), curve('predicted', (r) => r.predicted_bytes / 1e6)])}
</div>`;
}
