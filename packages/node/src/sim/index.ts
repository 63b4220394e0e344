/** The scenario simulator: real training, codecs and strategies on a virtual clock. */
export { SimError, type SimErrorCode } from './errors.js';
export { checkScenario, loadScenario, scenarioFromYaml, SCENARIO_SCHEMA, type Scenario, type AttackKind, type AttackSpec, type PopulationSpec, type StrategySpec, type Expectation, perRoundOf } from './scenario.js';
export type { Dist } from './distributions.js';
export { simulate, checkExpectations, type RoundRecord, type SimOptions, type SimSummary } from './simulator.js';
export { renderReport, lineChart, participationChart, type ReportRun } from './report.js';
export { runSimulateCommand, type SimulateCommandOptions, type SimulateCommandResult } from './run.js';
export { QUICKSTART } from './builtin.js';
export { runOneShot, type OneShotResult, type OneShotRow, type OneShotSpec } from './oneshot.js';
export { simulateReal, realRunDocument, runIdOf, trainerCount, shapedLinks, MAX_REAL_TRAINERS, type RealOptions, type UpdateTiming } from './real.js';
export { ShapedNetwork, shapingUnavailable, sweepStaleNamespaces, listNamespaces, type LinkSpec, type LinkBytes } from './netns.js';
export { calibrationOf, calibratedScenario, measureSoloStep } from './calibrate.js';
export { compareRounds } from './compare.js';
export type { Calibration, Comparison, RoundComparison } from './types.js';
