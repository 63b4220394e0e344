import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { MAX_REAL_TRAINERS, QUICKSTART, SimError, checkScenario, loadScenario, runSimulateCommand, scenarioFromYaml, simulate, trainerCount, type Scenario } from '../src/sim/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A small, fast scenario: 2,000 MNIST rows over 20 clients, 5 a round. */
function tiny(over: Partial<Scenario> = {}): Scenario {
  return checkScenario({
    ...QUICKSTART,
    run: 'tiny',
    data: { partition: { kind: 'iid' }, trainRows: 2000, testRows: 1000, shares: 20 },
    strategy: { kind: 'fedavg', cohort: 5, backupWorkers: 1, minParticipants: 2, deadlineS: 120 },
    rounds: 3,
    ...over,
  });
}

function expectScenarioError(value: unknown, pattern: RegExp): void {
  assert.throws(() => checkScenario(value), (e: unknown) => e instanceof SimError && e.code === 'SIM_SCENARIO' && pattern.test(e.message), String(pattern));
}

test('scenario files: the shipped quickstart equals the built-in one; bad files name what is wrong', () => {
  assert.deepEqual(parseYaml(readFileSync(join(root, 'scenarios', 'quickstart.yaml'), 'utf8')), JSON.parse(JSON.stringify(QUICKSTART)));
  for (const f of readdirSync(join(root, 'scenarios')).filter((n) => n.endsWith('.yaml') && !n.startsWith('run-'))) {
    assert.equal(loadScenario(join(root, 'scenarios', f)).run, f.replace(/\.yaml$/, ''), `${f} is valid and named after its file`);
  }
  expectScenarioError({ ...QUICKSTART, colour: 'blue' }, /unknown key "colour"/);
  expectScenarioError({ ...QUICKSTART, rounds: 'ten' }, /rounds: must be integer/);
  expectScenarioError({ ...QUICKSTART, task: { name: 'resnet', dataset: 'mnist' } }, /task\.name: must be one of "mlp", "cnn"/);
  expectScenarioError({ ...QUICKSTART, task: { name: 'transformer', dataset: 'mnist' } }, /task\.dataset: transformer trains on sotu or moby-dick, not mnist/);
  expectScenarioError({ ...QUICKSTART, strategy: { kind: 'fedavg', cohort: 500 } }, /strategy\.cohort 500 is more than the 100 clients \(data\.shares\)/);
  expectScenarioError({ ...QUICKSTART, population: { ...QUICKSTART.population, perRound: 500 } }, /population\.perRound 500 is more than the 100 clients/);
  expectScenarioError({ ...QUICKSTART, population: { ...QUICKSTART.population, perRound: 10 }, strategy: { kind: 'fedbuff', k: 50 } }, /buffer would never fill/);
  expectScenarioError({ ...QUICKSTART, population: { ...QUICKSTART.population, speed: { dist: 'gaussian', mean: 3 } } }, /population\.speed/);
  // Scenarios written before they were run documents are refused with what to change.
  expectScenarioError(
    { name: 'old', seed: 1, model: 'mlp-supernet', dataset: { name: 'mnist', partition: { kind: 'iid' } }, clients: { count: 10, perRound: 2, widths: [1, 0.5] }, rounds: 1 },
    /old scenario form.*rename "name" to "run".*task: \{ name: mlp, dataset: mnist \}.*data\.shares: <clients\.count>.*under "population".*strategy\.cohort.*slices: \{ byShare/,
  );
  // A run file for daemons is not a scenario until it has a population; a decentralised one never is.
  expectScenarioError(parseYaml(readFileSync(join(root, 'scenarios', 'run-mnist-fedavg.yaml'), 'utf8')), /a run document without a population: a scenario adds "population/);
  expectScenarioError(parseYaml(readFileSync(join(root, 'scenarios', 'run-sotu-demo.yaml'), 'utf8')), /decentralised run \(mode: decentralised\)/);
  // A scenario name becomes a directory and a run id: nothing that walks out of .fednode/sim.
  expectScenarioError({ ...QUICKSTART, run: '../..' }, /run: must match pattern/);
  assert.throws(() => loadScenario('/nonexistent/x.yaml'), /cannot read scenario \/nonexistent\/x.yaml: ENOENT/);
  assert.throws(() => scenarioFromYaml('name: [unclosed'), SimError);
});

test('simulate: deterministic for its seed; bytes come from real encoded updates', async () => {
  const s = tiny();
  const a = await simulate(s);
  const b = await simulate(s);
  const strip = (rs: typeof a.records) => rs.map(({ wall_s: _w, ...r }) => r);
  assert.deepEqual(strip(b.records), strip(a.records), 'same seed, same numbers');
  assert.equal(a.records.length, 3);
  const r0 = a.records[0];
  // int8 of the MLP: 199,210 parameters -> one byte each plus one fp32 scale per 256, per update.
  assert.ok(r0.bytes_up > r0.participants * 199210 && r0.bytes_up < r0.participants * 199210 * 1.05, `bytes up ${r0.bytes_up} for ${r0.participants} updates`);
  assert.equal(r0.bytes_down, r0.dispatched * (199210 * 4 + 256));
  assert.ok(a.summary.final_accuracy > a.summary.initial_accuracy! + 0.25, `accuracy ${a.summary.initial_accuracy} -> ${a.summary.final_accuracy}`);
  const c = await simulate(s, { seed: 2 });
  assert.notDeepEqual(strip(c.records), strip(a.records), 'another seed, other numbers');
  const fp16 = await simulate(tiny({ codec: { codec: 'fp16' } }), { rounds: 1 });
  assert.ok(fp16.records[0].bytes_up > 1.9 * r0.bytes_up * (fp16.records[0].participants / r0.participants), 'fp16 sends about twice int8');
});

test('simulate: HeteroFL widths on the MLP supernet send sliced updates; the full model and every width are evaluated', async () => {
  const population = { ...tiny().population, availability: 1, dropout: 0 };
  const slices = { byShare: [{ width: 1 }, { width: 0.5 }, { width: 0.25 }] };
  const s = tiny({ population, slices, strategy: { kind: 'fedavg', cohort: 5, weighting: 'uniform', minParticipants: 2 } });
  const r = await simulate(s);
  assert.equal(r.records.length, 3);
  // A full-width int8 update is at least one byte per parameter of the 199,210; widths 0.5 and 0.25 hold 89,610 and 42,310.
  const full = 199210;
  const last = r.records.at(-1)!;
  const updates = r.records.reduce((n, x) => n + x.participants, 0);
  assert.ok(last.bytes_up < updates * full * 0.9, `bytes up ${last.bytes_up} for ${updates} updates: sliced, below full width`);
  assert.ok(last.bytes_up > updates * 42310, 'no update is smaller than the narrowest slice');
  assert.ok(last.bytes_down < r.records.reduce((n, x) => n + x.dispatched, 0) * full * 4, 'narrow clients download only their slice');
  for (const x of r.records) assert.ok(x.accuracy !== null && x.accuracy > 0.1, 'the full-width global model is evaluated every round');
  const w = r.summary.accuracy_by_slice!;
  assert.deepEqual(Object.keys(w), ['width 0.5', 'width 0.25']);
  // Three short rounds on 2,000 rows: every width is above chance (0.1), not yet good.
  for (const [width, acc] of Object.entries(w)) assert.ok(acc > 0.15 && acc <= 1, `${width}: accuracy ${acc}`);
  expectScenarioError({ ...s, task: { name: 'cnn', dataset: 'mnist' } }, /slices\.byShare\[1\]: .*cnn/);
  expectScenarioError({ ...s, slices: { byShare: [{ width: 1 }, { width: 0 }] } }, /slices\.byShare\.1\.width: must be > 0/);
  expectScenarioError({ ...s, strategy: { kind: 'fedavg', cohort: 5, robust: { kind: 'median' } } }, /robust and strategy\.dp cannot combine/);
});

test('simulate: sotu-moe clients hold expert slices of a MoE transformer; held-out next-character accuracy is reported', async () => {
  const file = parseYaml(readFileSync(join(root, 'scenarios', 'sotu-moe.yaml'), 'utf8')) as Scenario;
  const s = checkScenario({
    ...file,
    data: { partition: { kind: 'natural' }, shares: 3, testRows: 256 },
    strategy: { ...file.strategy, cohort: 3 },
    local: { batch: 16, lr: 0.003, steps: 3 },
    rounds: 2,
  });
  const r = await simulate(s);
  assert.equal(r.records.length, 2);
  const full = r.summary.model_params!;
  const updates = r.records.reduce((n, x) => n + x.participants, 0);
  assert.equal(updates, 6);
  // fp32: a whole-model update is 4 bytes a parameter; holding 2 of 4 experts sends well under that.
  assert.ok(r.summary.bytes_up < updates * full * 4 * 0.9, `bytes up ${r.summary.bytes_up} for ${updates} updates of a ${full}-parameter model: expert-sliced`);
  for (const x of r.records) assert.ok(x.accuracy !== null && x.accuracy > 0 && x.accuracy <= 1 && x.loss !== null && Number.isFinite(x.loss), 'held-out accuracy and loss every round');
  assert.deepEqual(Object.keys(r.summary.accuracy_by_slice!), ['experts 0,1', 'experts 2,3', 'experts 0,2'], 'client i holds slices.byShare[i]');
  assert.ok(r.summary.initial_loss! > r.summary.final_loss, `held-out loss ${r.summary.initial_loss} -> ${r.summary.final_loss}`);
  expectScenarioError({ ...s, slices: { byShare: [{ experts: [0, 5] }] } }, /slices\.byShare\[0\]: experts \[0, 5\] must be distinct ids in \[0, 4\)/);
  expectScenarioError({ ...s, data: { partition: { kind: 'shards' }, shares: 3 } }, /data\.partition: moe-transformer on sotu has natural, eras, iid, not shards/);
  expectScenarioError({ ...s, population: { ...s.population, attackers: { kind: 'label-flip', fraction: 0.5 } } }, /label-flip attackers need an image task/);
});

test('simulate: stragglers, deadlines and dropouts shape rounds; FedBuff runs asynchronously with staleness', async () => {
  const slow = tiny({
    population: { ...tiny().population, speed: { dist: 'pareto-slowdown', value: 400, alpha: 0.7 }, dropout: 0.3 },
    strategy: { kind: 'fedavg', cohort: 5, minParticipants: 1, deadlineS: 8 },
    rounds: 4,
  });
  const r = await simulate(slow);
  const late = r.records.reduce((n, x) => n + x.late, 0);
  const dropped = r.records.reduce((n, x) => n + x.dropped, 0);
  assert.ok(late > 0 && dropped > 0, `late ${late}, dropped ${dropped}`);
  for (let i = 1; i < r.records.length; i++) assert.ok(r.records[i].virtual_time_s - r.records[i - 1].virtual_time_s <= 8 + 1e-9, 'a round never outlasts its deadline');
  const buff = await simulate(tiny({ population: { ...tiny().population, perRound: 5 }, strategy: { kind: 'fedbuff', k: 3, staleness: { kind: 'polynomial', a: 0.5 } }, rounds: 6 }));
  assert.equal(buff.records.length, 6);
  assert.ok(buff.records.some((x) => x.mean_staleness > 0), 'asynchronous updates arrive stale');
  assert.ok(buff.summary.final_accuracy > 0.5);
});

test('simulate: strategies come from the registry; FedProx with mu 0 runs exactly as FedAvg; section errors name only what is wrong', async () => {
  const avg = await simulate(tiny({ rounds: 2 }));
  const prox = await simulate(tiny({ strategy: { kind: 'fedprox', mu: 0, cohort: 5, backupWorkers: 1, minParticipants: 2, deadlineS: 120 }, rounds: 2 }));
  const strip = (rs: typeof avg.records) => rs.map(({ wall_s: _w, ...r }) => r);
  assert.deepEqual(strip(prox.records), strip(avg.records));
  // A flush deadline in a scenario: partial buffers become versions on the virtual clock.
  const flushed = await simulate(tiny({ population: { ...tiny().population, perRound: 5 }, strategy: { kind: 'fedbuff', k: 5, flushS: 1 }, rounds: 2 }));
  assert.equal(flushed.records.length, 2);
  assert.equal(flushed.records[0].virtual_time_s, 1, 'the first version is flushed 1 s after the start');
  assert.ok(flushed.records[0].participants > 0 && flushed.records[0].participants < 5, 'from a partial buffer');
  expectScenarioError({ ...QUICKSTART, strategy: { kind: 'fedavg', deadlinS: 5 } }, /^scenario is not a valid scenario: strategy: unknown key "deadlinS"$/);
  expectScenarioError({ ...QUICKSTART, strategy: { kind: 'fedprx', mu: 1 } }, /^scenario is not a valid scenario: strategy\.kind: must be one of "fedavg", "fedbuff", "fedprox", "oneshot"$/);
  expectScenarioError({ ...QUICKSTART, sweep: [{ label: 'x', strategy: { kind: 'fedprox', mu: 0.1, cohort: 10, backupWorkers: 10 } }] }, /sweep\[0\]: strategy\.backupWorkers 10 leaves nobody of strategy\.cohort 10/);
});

test('simulate: FedProx partial work: a straggler sends the steps it trained by the deadline instead of missing the round', async () => {
  const population = { ...tiny().population, speed: { dist: 'pareto-slowdown', value: 400, alpha: 0.7 }, availability: 1, dropout: 0 } as const;
  const timing = { cohort: 5, minParticipants: 1, deadlineS: 1 };
  const avg = await simulate(tiny({ population, strategy: { kind: 'fedavg', ...timing } }));
  const prox = await simulate(tiny({ population, strategy: { kind: 'fedprox', mu: 0.1, partialWork: true, ...timing } }));
  const sum = (r: typeof avg, k: 'late' | 'participants') => r.records.reduce((n, x) => n + x[k], 0);
  assert.ok(sum(avg, 'late') > 0, 'FedAvg loses stragglers at the deadline');
  assert.ok(prox.summary.partial_updates! > 0, 'stragglers stopped early');
  assert.ok(sum(prox, 'participants') > sum(avg, 'participants'), `FedProx takes their partial work: ${sum(prox, 'participants')} updates against ${sum(avg, 'participants')}`);
  assert.equal(sum(prox, 'participants') + sum(prox, 'late'), sum(avg, 'participants') + sum(avg, 'late'), 'the same clients were dispatched');
  for (let i = 0; i < prox.records.length; i++) assert.ok(prox.records[i].virtual_time_s <= (i + 1) * timing.deadlineS + 1e-9, 'partial work arrives by the deadline');
  expectScenarioError({ ...QUICKSTART, strategy: { kind: 'fedprox', mu: 0.1, cohort: 10, partialWork: true } }, /strategy\.partialWork needs strategy\.deadlineS/);
});

test('simulate: sign-flipping attackers hurt FedAvg; the coordinate-wise median resists them', async () => {
  const attacked = (strategy: Scenario['strategy']) =>
    tiny({
      population: { ...tiny().population, availability: 1, dropout: 0, attackers: { kind: 'sign-flip', fraction: 0.3, factor: 4 } },
      strategy,
      rounds: 4,
    });
  const mean = await simulate(attacked({ kind: 'fedavg', cohort: 10, minParticipants: 1 }));
  const median = await simulate(attacked({ kind: 'fedavg', cohort: 10, minParticipants: 1, robust: { kind: 'median' } }));
  assert.ok(mean.records.some((r) => r.attackers > 0));
  assert.ok(median.summary.final_accuracy > mean.summary.final_accuracy + 0.1, `median ${median.summary.final_accuracy} vs mean ${mean.summary.final_accuracy}`);
});

test('simulate: two thousand clients on one machine, lean per-client state', async () => {
  const big = tiny({
    data: { partition: { kind: 'iid' }, trainRows: 20000, testRows: 1000, shares: 2000 },
    strategy: { kind: 'fedavg', cohort: 50, minParticipants: 10 },
    rounds: 2,
  });
  const r = await simulate(big);
  assert.equal(r.summary.clients, 2000);
  assert.equal(r.records.length, 2);
  assert.ok(r.summary.peak_rss_mb > 0 && r.summary.peak_rss_mb < 4096, `peak RSS ${r.summary.peak_rss_mb} MB`);
});

test('simulate command: metrics as JSON lines, a self-contained HTML report, a sweep table, and --check', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-sim-'));
  try {
    const lines: string[] = [];
    const s = tiny({
      rounds: 2,
      expect: { minFinalAccuracy: 0.999 },
      sweep: [
        { label: 'int8', codec: { codec: 'int8' } },
        { label: 'fp16', codec: { codec: 'fp16' } },
      ],
    });
    const res = await runSimulateCommand(s, { out: dir, json: true, check: true }, (l) => lines.push(l));
    const last = JSON.parse(lines.at(-1)!);
    assert.equal(last.passed, false, 'accuracy 0.999 is not reached');
    assert.equal(res.failures.length, 2);
    assert.deepEqual(last.runs.map((r: { label: string }) => r.label), ['int8', 'fp16']);
    const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(metrics.length, 4);
    for (const m of metrics) for (const k of ['virtual_time_s', 'accuracy', 'loss', 'bytes_up', 'bytes_down', 'participants', 'mean_staleness']) assert.ok(k in m, k);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.match(html, /<svg[^>]+aria-label="Test accuracy by round"/);
    assert.match(html, /<td>int8<\/td>/);
    assert.match(html, /<td>fp16<\/td>/);
    assert.doesNotMatch(html, /<script|https?:\/\//, 'self-contained: no scripts, no external resources');
    assert.ok(existsSync(join(dir, 'summary.json')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one-shot merging: every method is evaluated; weight matching beats plain averaging across initialisations', async () => {
  const s = checkScenario({
    ...parseYaml(readFileSync(join(root, 'scenarios', 'oneshot-merge.yaml'), 'utf8')),
    data: { partition: { kind: 'shards', perClient: 2 }, trainRows: 6000, testRows: 2000, shares: 5 },
    local: { epochs: 1, batch: 32, lr: 0.02, momentum: 0.9 },
  });
  const { summary } = await simulate(s);
  const o = summary.oneshot!;
  assert.deepEqual(o.rows.map((r) => r.method.split(' ')[0]), ['client-0000', 'client-0001', 'client-0002', 'client-0003', 'client-0004', 'ensemble', 'average', 'task', 'TIES', 'DARE', 'weight']);
  for (const r of o.rows) assert.ok(r.accuracy > 0.05 && r.accuracy <= 1, `${r.method}: ${r.accuracy}`);
  const d = o.differentInit!;
  assert.ok(d.weightMatching > d.average, `weight matching ${d.weightMatching} vs plain average ${d.average}`);
});

test('simulate --real: trainer processes default to one per share up to 16; --trainers asks for up to 64, never more than the shares', () => {
  const at = (shares: number): Scenario => ({ ...QUICKSTART, data: { ...QUICKSTART.data, shares } });
  assert.equal(trainerCount(at(3)), 3);
  assert.equal(trainerCount(at(100)), 16);
  assert.equal(trainerCount(at(100), 32), 32);
  assert.equal(trainerCount(at(100), MAX_REAL_TRAINERS), 64);
  assert.throws(() => trainerCount(at(100), 65), /--trainers 65: at most 64 trainer processes on one machine/);
  assert.throws(() => trainerCount(at(8), 9), /--trainers 9: .* has 8 shares, one per trainer/);
});
