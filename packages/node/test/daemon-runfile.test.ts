import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFileProblem } from './runfile-helpers.js';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPsk, runFileFromYaml, loadRunFile } from '../src/daemon/index.js';
import { loadPeerRunFile } from '../src/peer/peer-run-file.js';
import { RUN_DOCUMENT_SCHEMA, loadRunDocument } from '../src/run-document.js';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';

/** Run files: the shipped examples load; every kind of mistake is one line naming its path. */

const GOOD = `
run: demo-run
seed: 1
task: { name: mlp, dataset: mnist }
data: { partition: { kind: iid }, shares: 4 }
codec: { codec: int8 }
strategy: { kind: fedavg, cohort: 4, deadlineS: 30, minParticipants: 3 }
rounds: 5
local: { epochs: 1, batch: 64, lr: 0.05 }
`;

const problem = runFileProblem;

test('a valid run file parses', () => {
  const r = runFileFromYaml(GOOD);
  assert.equal(r.run, 'demo-run');
  assert.equal(r.strategy.kind, 'fedavg');
});

test('the example run files in scenarios/ load', () => {
  const dir = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.startsWith('run-') && f.endsWith('.yaml'));
  assert.ok(files.length >= 2);
  for (const f of files) {
    // Decentralised runs (mode: decentralised) have their own schema; the federated loader says so.
    if (/^mode: decentralised$/m.test(readFileSync(join(dir, f), 'utf8'))) {
      assert.doesNotThrow(() => loadPeerRunFile(join(dir, f)), f);
      assert.throws(() => loadRunFile(join(dir, f)), /decentralised run.*--role peer/, f);
    } else assert.doesNotThrow(() => loadRunFile(join(dir, f)), f);
  }
});

test('one run document: every shipped file passes its JSON schema, and the one loader picks the runtime by mode', () => {
  const dir = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
  const validate = new Ajv({ allErrors: true, strict: false, discriminator: true }).compile(RUN_DOCUMENT_SCHEMA);
  const modes: Record<string, string> = {};
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
    const value = parseYaml(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;
    // The simulator's one-shot comparison (every method at once, no `method`) is no daemon run; run-mnist-oneshot.yaml is.
    if ((value.strategy as { kind?: string; method?: unknown } | undefined)?.kind === 'oneshot' && (value.strategy as { method?: unknown }).method === undefined) continue;
    assert.ok(validate(value), `${f}: ${JSON.stringify(validate.errors)}`);
    if (f.startsWith('run-')) modes[f] = loadRunDocument(join(dir, f)).mode;
  }
  assert.deepEqual(modes, {
    'run-mnist-fedavg.yaml': 'federated',
    'run-mnist-fedbuff-psk.yaml': 'federated',
    'run-mnist-heterofl.yaml': 'federated',
    'run-mnist-oneshot.yaml': 'federated',
    'run-sotu-demo.yaml': 'decentralised',
    'run-sotu-diloco.yaml': 'decentralised',
    'run-sotu-diloco-warm.yaml': 'decentralised',
    'run-sotu-experts.yaml': 'federated',
    'run-sotu-moe.yaml': 'federated',
  });
  // The schema is a real check: a decentralised document with a federated strategy, or a typo, fails it.
  assert.ok(!validate({ ...(parseYaml(readFileSync(join(dir, 'run-sotu-demo.yaml'), 'utf8')) as object), strategy: { kind: 'fedavg' } }));
  assert.ok(!validate({ ...(parseYaml(readFileSync(join(dir, 'run-mnist-fedavg.yaml'), 'utf8')) as object), rounds: 'five' }));
});

test('every federated scenario in scenarios/ is also a run document a daemon reads (it ignores the population)', () => {
  const dir = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
  const files = readdirSync(dir).filter((f) => !f.startsWith('run-') && f.endsWith('.yaml'));
  assert.ok(files.length >= 10);
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    assert.match(text, /^population:/m, `${f} has a population`);
    // The simulator's one-shot comparison merges with every method; a daemon merges with one and names what it lacks.
    if (/kind: oneshot/.test(text)) assert.throws(() => loadRunFile(join(dir, f)), /strategy: must have required property 'method'; strategy: must have required property 'deadlineS'; strategy: unknown key "density"/, f);
    else assert.equal(loadRunFile(join(dir, f)).run.run, f.replace(/\.yaml$/, ''), f);
  }
});

test('unknown keys, wrong types and impossible values name their path', () => {
  assert.match(problem(GOOD + 'colour: blue\n'), /\(top level\): unknown key "colour"/);
  assert.match(problem(GOOD.replace('cohort: 4', 'cohort: four')), /strategy\.cohort: must be integer/);
  assert.match(problem(GOOD.replace('cohort: 4', 'cohort: 0')), /strategy\.cohort: must be >= 1/);
  assert.match(problem(GOOD.replace('lr: 0.05', 'lr: -1')), /local\.lr: must be > 0/);
  assert.match(problem(GOOD.replace('codec: int8', 'codec: zip')), /codec\.codec: must be one of/);
  assert.match(problem(GOOD.replace('deadlineS: 30', 'deadlinS: 30')), /strategy: unknown key "deadlinS"/);
  assert.match(problem(GOOD.replace('minParticipants: 3', 'minParticipants: 5')), /strategy\.minParticipants 5 is more than strategy\.cohort 4/);
  assert.match(problem(GOOD.replace('cohort: 4,', 'cohort: 4, backupWorkers: 4,')), /backupWorkers 4 leaves nobody/);
  assert.match(problem(GOOD.replace('run: demo-run', 'run: "bad id/with slash"')), /run: must match pattern/);
  assert.match(problem('run: [unclosed'), /not valid YAML/);
});

test('the pre-shared key comes from a file or a variable, and must be long enough', () => {
  const withEnv = runFileFromYaml(GOOD + 'admission: { psk: { env: FEDNODE_TEST_PSK } }\n');
  assert.equal(readPsk(withEnv, '.', { FEDNODE_TEST_PSK: 'a-key-of-enough-bytes' }), 'a-key-of-enough-bytes');
  assert.throws(() => readPsk(withEnv, '.', {}), /FEDNODE_TEST_PSK is not set/);
  assert.throws(() => readPsk(withEnv, '.', { FEDNODE_TEST_PSK: 'short' }), /at least 16/);
  const withFile = runFileFromYaml(GOOD + 'admission: { psk: { file: missing.psk } }\n');
  assert.throws(() => readPsk(withFile, '/nonexistent'), /admission\.psk\.file: cannot read/);
  assert.equal(readPsk(runFileFromYaml(GOOD), '.'), undefined);
  // A key file others can read is refused, as ssh refuses such a private key; 0600 is read.
  const dir = mkdtempSync(join(tmpdir(), 'fednode-psk-'));
  try {
    const named = runFileFromYaml(GOOD + 'admission: { psk: { file: run.psk } }\n');
    writeFileSync(join(dir, 'run.psk'), 'a-key-of-enough-bytes\n', { mode: 0o644 });
    chmodSync(join(dir, 'run.psk'), 0o644);
    assert.throws(() => readPsk(named, dir), /admission\.psk\.file: .*run\.psk can be read by group or others \(mode 0644\); run chmod 600/);
    chmodSync(join(dir, 'run.psk'), 0o640);
    assert.throws(() => readPsk(named, dir), /mode 0640/);
    chmodSync(join(dir, 'run.psk'), 0o600);
    assert.equal(readPsk(named, dir), 'a-key-of-enough-bytes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('strategy sections: the kind is checked first, then only that kind’s keys; fedprox comes from the registry', () => {
  const typo = problem(GOOD.replace('deadlineS: 30', 'deadlinS: 30'));
  assert.match(typo, /strategy: unknown key "deadlinS"/);
  // Only what is wrong: no other kind's required keys (fedbuff's k, fedprox's mu), no oneOf summary.
  assert.doesNotMatch(typo, /required property|"k"|"mu"|oneOf|must match/);
  assert.equal(typo.split('; ').length, 1, typo);
  const unknown = problem(GOOD.replace('kind: fedavg', 'kind: fedavgg'));
  assert.match(unknown, /strategy\.kind: must be one of "fedavg", "fedbuff", "fedprox"/);
  assert.equal(unknown.split('; ').length, 1, unknown);
  assert.match(problem(GOOD.replace('kind: fedavg', 'kind: fedprox')), /strategy: must have required property 'mu'/);
  assert.match(problem(GOOD.replace('kind: fedavg,', 'kind: fedprox, mu: -0.1,')), /strategy\.mu: must be >= 0/);
  const prox = runFileFromYaml(GOOD.replace('kind: fedavg,', 'kind: fedprox, mu: 0.01,'));
  assert.deepEqual(prox.strategy, { kind: 'fedprox', mu: 0.01, cohort: 4, deadlineS: 30, minParticipants: 3 });
  assert.match(problem(GOOD.replace('strategy: { kind: fedavg, cohort: 4, deadlineS: 30, minParticipants: 3 }', 'strategy: { kind: fedprox, mu: 0.1 }')), /strategy: fedprox needs a cohort or a deadlineS/);
  assert.match(problem(GOOD.replace('strategy: { kind: fedavg, cohort: 4, deadlineS: 30, minParticipants: 3 }', 'strategy: { kind: fedbuff, k: 2, fedAsync: { alpha: 0.5 } }')), /strategy\.fedAsync applies each update on arrival: strategy\.k must be 1/);
});

test('oneshot sections: one method with its own options, one version, and the rules name their path', () => {
  const ONESHOT = GOOD.replace('strategy: { kind: fedavg, cohort: 4, deadlineS: 30, minParticipants: 3 }', 'strategy: { kind: oneshot, method: { kind: ties, density: 0.2 }, deadlineS: 60, minParticipants: 3, cohort: 4 }').replace('rounds: 5', 'rounds: 1');
  const r = runFileFromYaml(ONESHOT);
  assert.deepEqual(r.strategy, { kind: 'oneshot', method: { kind: 'ties', density: 0.2 }, deadlineS: 60, minParticipants: 3, cohort: 4 });
  assert.equal(problem(ONESHOT.replace('rounds: 1', 'rounds: 5')), 'run.yaml: rounds 5: a oneshot run makes 1 version, set rounds: 1');
  // An option of another method, a bad value, an unknown method: each named under strategy.method.
  assert.match(problem(ONESHOT.replace('density: 0.2', 'p: 0.2')), /strategy\.method: unknown key "p"/);
  assert.match(problem(ONESHOT.replace('density: 0.2', 'density: 2')), /strategy\.method\.density: must be <= 1/);
  assert.match(problem(ONESHOT.replace('kind: ties', 'kind: tie')), /strategy\.method\.kind: must be one of "average", "task-arithmetic", "ties", "dare", "slerp"/);
  assert.match(problem(ONESHOT.replace('deadlineS: 60, ', '')), /strategy: must have required property 'deadlineS'/);
  assert.match(problem(ONESHOT.replace('minParticipants: 3', 'minParticipants: 5')), /strategy\.minParticipants 5 is more than strategy\.cohort 4/);
  assert.match(problem(ONESHOT.replace('cohort: 4', 'cohort: 4, differentInit: true')), /strategy\.differentInit .* must be average or slerp, not ties/);
});
