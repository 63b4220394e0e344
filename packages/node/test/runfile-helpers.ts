import assert from 'node:assert/strict';
import { DaemonError, runFileFromYaml } from '../src/daemon/index.js';

/** The one-line RUN_FILE error a run file's text is refused with (fails when it is accepted). */
export function runFileProblem(yaml: string): string {
  try {
    runFileFromYaml(yaml, 'run.yaml');
  } catch (e) {
    assert.ok(e instanceof DaemonError);
    assert.equal(e.code, 'RUN_FILE');
    assert.ok(!e.message.includes('\n'), 'one line');
    return e.message;
  }
  assert.fail('expected the run file to be refused');
}
