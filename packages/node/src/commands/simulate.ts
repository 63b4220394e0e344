import { Command } from 'commander';
import { positiveInt, seed } from '../cli-support.js';
import type { SimulateCommandOptions } from '../sim/index.js';

/**
 * `fednode simulate FILE` and `fednode demo`: a scenario on the simulator, with a progress
 * bar on a terminal, metrics as JSON lines, an HTML report and a closing summary.
 */
interface SimFlags {
  rounds?: number;
  seed?: number;
  out?: string;
  json: boolean;
  check: boolean;
  threads?: number;
  real?: boolean;
  trainers?: number;
  shaped?: boolean;
}

/** Runs the scenario file, or the quickstart for `null`. */
async function run(file: string | null, flags: SimFlags): Promise<void> {
  // The simulator (and through it the daemons and libp2p) loads only when a scenario runs.
  const sim = await import('../sim/index.js');
  const scenario = file === null ? sim.QUICKSTART : sim.loadScenario(file);
  const opts: SimulateCommandOptions = { rounds: flags.rounds, seed: flags.seed, out: flags.out, json: flags.json, check: flags.check, threads: flags.threads, real: flags.real === true || flags.shaped === true, shaped: flags.shaped, ...(flags.trainers === undefined ? {} : { trainers: flags.trainers }) };
  const res = await sim.runSimulateCommand(scenario, opts);
  if (res.failures.length > 0) process.exitCode = 1;
}

function withSimOptions(c: Command): Command {
  return c
    .option('--rounds <n>', 'override the number of rounds', positiveInt)
    .option('--seed <s>', 'override the seed', seed)
    .option('--out <dir>', 'directory for metrics.jsonl, summary.json and report.html (default .fednode/sim/<name>)')
    .option('--json', 'print one JSON summary as the last line of stdout, no progress bar', false)
    .option('--threads <n>', 'onnxruntime intra-op threads (default 1)', positiveInt);
}

export function simulateCommand(): Command {
  return withSimOptions(new Command('simulate').description('run a scenario file on the simulator (real training, codecs and strategies on a virtual clock)').argument('<file>', 'scenario YAML file'))
    .option('--check', "exit with code 1 when the scenario's expected outcome is not met", false)
    .option('--real', 'run the scenario as real fednode daemons on 127.0.0.1 (one aggregator, one process per trainer) on the wall clock', false)
    .option('--shaped', '--real with each daemon in its own network namespace, links shaped by tc to the scenario\'s uplink and downlink rates (needs root; latency is not applied), and a report of measured against predicted round times and bytes', false)
    .option('--trainers <n>', '--real: trainer processes (default one per share, at most 16; up to 64)', positiveInt)
    .action(async (file: string, flags: SimFlags) => run(file, flags));
}

export function demoCommand(): Command {
  return withSimOptions(new Command('demo').description('run the quickstart scenario (100 simulated clients, MNIST, FedAvg) and write its report'))
    .option('--check', 'exit with code 1 when the quickstart does not reach its expected accuracy', false)
    .action(async (flags: SimFlags) => run(null, flags));
}
