import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { writeFileAtomic } from '@fednode/core';
import { strategyWarnings } from '@fednode/aggregator';
import { checkScenario, isOneShot, type Scenario } from './scenario.js';
import { checkExpectations, simulate, type RoundRecord, type SimSummary } from './simulator.js';
import { renderReport, type ReportRun } from './report.js';
import { runIdOf, shapedLinks, simulateReal, trainerCount, type UpdateTiming } from './real.js';
import { calibratedScenario, calibrationOf, measureSoloStep } from './calibrate.js';
import { SimError } from './errors.js';
import { shapingUnavailable } from './netns.js';
import { compareRounds, comparisonSection } from './compare.js';

export interface SimulateCommandOptions {
  readonly rounds?: number;
  readonly seed?: number;
  /** Directory for metrics.jsonl, report.html and summary.json (default .fednode/sim/<name>). */
  readonly out?: string;
  /** Last stdout line: one JSON summary; no progress bar. */
  readonly json?: boolean;
  /** Fail (exit code 1) when the scenario's expected outcome is not met. */
  readonly check?: boolean;
  readonly threads?: number;
  /** Run on real `fednode` daemons on 127.0.0.1 (one process per trainer) instead of the simulator. */
  readonly real?: boolean;
  /** `real`: trainer processes (default the shares, at most 16; up to 64). */
  readonly trainers?: number;
  /** Real daemons on shaped links (implies `real`; needs root), compared round by round with the calibrated simulator. */
  readonly shaped?: boolean;
}

export interface SimulateCommandResult {
  readonly summaries: readonly SimSummary[];
  readonly failures: readonly string[];
  readonly outDir: string;
}

/**
 * What `fednode simulate` and `fednode demo` do: run the scenario (and its sweep variants),
 * stream metrics as JSON lines, write an HTML report, print a summary. Returns the failures
 * of the expected outcome; the caller decides the exit code.
 */
export async function runSimulateCommand(scenario: Scenario, o: SimulateCommandOptions, log: (line: string) => void = console.log): Promise<SimulateCommandResult> {
  // Before the calibration spends any time: a machine that cannot shape links says so at once.
  const unshapeable = o.shaped === true ? shapingUnavailable() : null;
  if (unshapeable !== null) throw new SimError('SIM_RUN', `--shaped: ${unshapeable}`);
  const outDir = resolve(o.out ?? join('.fednode', 'sim', scenario.run));
  mkdirSync(outDir, { recursive: true });
  const metricsPath = join(outDir, 'metrics.jsonl');
  writeFileSync(metricsPath, '');
  const variants: { label: string; scenario: Scenario }[] = scenario.sweep
    ? scenario.sweep.map((v) => ({
        label: v.label,
        scenario: checkScenario(
          {
            ...scenario,
            sweep: undefined,
            strategy: v.strategy ?? scenario.strategy,
            codec: v.codec ?? scenario.codec,
            population: { ...scenario.population, attackers: v.attackers === 'none' ? undefined : (v.attackers ?? scenario.population.attackers) },
            expect: v.expect ?? scenario.expect,
          },
          `sweep ${v.label}`,
        ),
      }))
    : [{ label: scenario.run, scenario }];
  const rounds = o.rounds ?? scenario.rounds;
  // Notes go to stderr under --json: stdout's last line is the summary.
  const note = (line: string): void => void (o.json === true ? process.stderr.write(line + '\n') : log(line));
  for (const v of variants) {
    const st = v.scenario.strategy;
    if (!isOneShot(st)) for (const w of strategyWarnings(st)) note(`warning (${v.label}): ${w}`);
  }
  // Real daemons run on the wall clock; the report's "virtual" columns then hold wall seconds.
  const real = o.real === true || o.shaped === true;
  const clock = real ? 'wall (--real)' : 'virtual';
  const tty = process.stdout.isTTY === true && o.json !== true;
  const bar = tty ? new cliProgress.SingleBar({ format: '{label} [{bar}] round {value}/{total} | acc {acc} | {vt}s ' + clock + ' | {mb} MB up', hideCursor: true }, cliProgress.Presets.shades_classic) : null;
  const runs: ReportRun[] = [];
  // --shaped: the calibrated simulator's runs (shown beside the measured ones) and the comparisons.
  const predictions: ReportRun[] = [];
  const sections: string[] = [];
  try {
    for (const v of variants) {
      bar?.start(rounds, 0, { label: v.label, acc: '-', vt: '0', mb: '0' });
      const onRound = (r: RoundRecord): void => {
        appendFileSync(metricsPath, JSON.stringify({ run: v.label, ...r }) + '\n');
        bar?.update(r.round + 1, { acc: r.accuracy === null ? '-' : r.accuracy.toFixed(4), vt: r.virtual_time_s.toFixed(0), mb: (r.bytes_up / 1e6).toFixed(1) });
        if (!tty && o.json !== true) log(`${v.label} round ${r.round + 1}/${rounds}: accuracy ${r.accuracy?.toFixed(4) ?? '-'}, ${r.virtual_time_s.toFixed(1)} s ${clock}, ${(r.bytes_up / 1e6).toFixed(2)} MB up`);
      };
      // Measured before any daemon starts: the step time of a machine with nothing else training.
      const soloStepS = o.shaped === true ? await measureSoloStep(v.scenario, o.threads) : null;
      const measured: { summary: SimSummary; records: RoundRecord[]; updates?: readonly UpdateTiming[] } = real
        ? await simulateReal(v.scenario, {
            dir: join(outDir, 'real', runIdOf(v.label)),
            rounds: o.rounds,
            seed: o.seed,
            label: v.label,
            threads: o.threads,
            ...(o.trainers === undefined ? {} : { trainers: o.trainers }),
            shaped: o.shaped === true,
            onRound,
            note,
          })
        : await simulate(v.scenario, { rounds: o.rounds, seed: o.seed, label: v.label, threads: o.threads, onRound });
      let { summary } = measured;
      const { records } = measured;
      const updates = measured.updates ?? [];
      if (soloStepS !== null) {
        const calibration = calibrationOf(v.scenario, soloStepS, updates, shapedLinks(v.scenario, trainerCount(v.scenario, o.trainers)));
        if (calibration.trainers < v.scenario.data.shares) note(`--shaped: the prediction has all ${v.scenario.data.shares} clients; the real run had ${calibration.trainers} trainers`);
        const predicted = await simulate(calibratedScenario(v.scenario, calibration), { rounds: o.rounds, seed: o.seed, label: `${v.label} (predicted)`, threads: o.threads });
        const prediction = compareRounds(records, predicted.records, calibration);
        summary = { ...summary, prediction };
        predictions.push(predicted);
        sections.push(comparisonSection(v.label, prediction));
      }
      bar?.stop();
      runs.push({ summary, records });
    }
  } finally {
    bar?.stop();
  }
  const reportPath = join(outDir, 'report.html');
  writeFileAtomic(reportPath, [new TextEncoder().encode(renderReport(scenario.run, scenario.description ?? '', [...runs, ...predictions], sections))]);
  const summaries = runs.map((r) => r.summary);
  writeFileAtomic(join(outDir, 'summary.json'), [new TextEncoder().encode(JSON.stringify(summaries.length === 1 ? summaries[0] : summaries, null, 2) + '\n')]);
  const failures = o.check ? variants.flatMap((v, i) => checkExpectations(v.scenario, summaries[i]).map((f) => `${v.label}: ${f}`)) : [];
  if (o.json) {
    log(JSON.stringify(summaries.length === 1 ? { ...summaries[0], passed: failures.length === 0 } : { runs: summaries, passed: failures.length === 0 }));
  } else {
    for (const s of summaries) {
      if (s.prediction) log(`  measured against predicted: round time ${(s.prediction.round_time_error * 100).toFixed(1)}% mean error (mean round time ${(s.prediction.mean_round_time_error * 100).toFixed(1)}% off), bytes ${(s.prediction.bytes_error * 100).toFixed(1)}% over rounds ${s.prediction.predicted_rounds.join(', ')}${s.prediction.in_sample ? ' (in-sample)' : ''}; calibrated on rounds ${s.prediction.calibration.versions.join(', ')}: ${(s.prediction.calibration.step_s * 1000).toFixed(2)} ms per step (${(s.prediction.calibration.solo_step_s * 1000).toFixed(2)} alone), ${(s.prediction.calibration.encode_s * 1000).toFixed(0)} ms per encoding, ${(s.prediction.calibration.overhead_s * 1000).toFixed(0)} ms overhead per update`);
      if (s.daemon_rss_mb) log(`  peak resident memory per daemon (VmHWM): aggregator ${s.daemon_rss_mb.aggregator} MB, trainers ${s.daemon_rss_mb.trainer_min}/${s.daemon_rss_mb.trainer_median}/${s.daemon_rss_mb.trainer_max} MB smallest/median/largest`);
      if (s.accuracy_by_slice) log(`  accuracy by slice: ${Object.entries(s.accuracy_by_slice).map(([w, a]) => `${w}: ${a.toFixed(4)}`).join(', ')}`);
      for (const row of s.oneshot?.rows ?? []) log(`  ${row.method.padEnd(44)} accuracy ${row.accuracy.toFixed(4)}`);
      const d = s.oneshot?.differentInit;
      if (d) log(`  different initialisations: plain average ${d.average.toFixed(4)}, weight matching then average ${d.weightMatching.toFixed(4)} (alone ${d.models.map((a) => a.toFixed(4)).join(', ')})`);
      const target = s.time_to_target_s === null ? '' : `; target reached at ${s.time_to_target_s.toFixed(1)} s virtual with ${(s.bytes_up_to_target! / 1e6).toFixed(2)} MB up`;
      log(`${s.label}: final accuracy ${s.final_accuracy.toFixed(4)} after ${s.rounds} rounds, ${s.virtual_time_s.toFixed(1)} s ${clock}, ${(s.bytes_up / 1e6).toFixed(2)} MB up, ${(s.bytes_down / 1e6).toFixed(2)} MB down, ${s.wall_time_s.toFixed(1)} s wall (${(s.overhead_share * 100).toFixed(0)}% outside training), ${s.peak_rss_mb} MB peak RSS${target}`);
    }
    log(`metrics: ${metricsPath}`);
    log(`report:  ${reportPath}`);
    for (const f of failures) log(`expected outcome not met: ${f}`);
  }
  return { summaries, failures, outDir };
}
