import { checkScenario, type Scenario } from './scenario.js';

/**
 * The quickstart scenario `fednode demo` runs, the same as scenarios/quickstart.yaml (a test
 * keeps them equal), built in so the demo needs no file.
 */
export const QUICKSTART: Scenario = checkScenario(
  {
    run: 'quickstart',
    description: '100 clients, Dirichlet(0.5) label skew, 10 per round, FedAvg with 2 backup workers, int8 updates.',
    seed: 1,
    task: { name: 'mlp', dataset: 'mnist' },
    data: { testRows: 5000, partition: { kind: 'dirichlet', alpha: 0.5 }, shares: 100 },
    codec: { codec: 'int8' },
    strategy: { kind: 'fedavg', cohort: 10, backupWorkers: 2, minParticipants: 5, deadlineS: 120 },
    rounds: 20,
    local: { epochs: 1, batch: 32, lr: 0.05, momentum: 0.9 },
    population: {
      speed: { dist: 'pareto-slowdown', value: 400, alpha: 2 },
      uplinkMbps: { dist: 'uniform', min: 2, max: 20 },
      downlinkMbps: { dist: 'uniform', min: 10, max: 50 },
      latencyMs: { dist: 'uniform', min: 20, max: 200 },
      availability: 0.9,
      dropout: 0.05,
    },
    expect: { minFinalAccuracy: 0.9 },
  },
  'built-in quickstart',
);
