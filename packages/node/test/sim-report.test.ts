import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { renderReport, type ReportRun } from '../src/sim/index.js';

const CHROMIUM = '/usr/bin/chromium';
// Flags from the environment notes: without the background-networking ones Chromium keeps
// trying hosts this network refuses.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function run(label: string, k: number): ReportRun {
  return {
    summary: { scenario: 's', label, final_accuracy: 0.9, final_loss: 0.3, rounds: 10, virtual_time_s: 100, bytes_up: 1e7, bytes_down: 5e7, wall_time_s: 3, clients: 100, peak_rss_mb: 500, train_time_s: 2, overhead_share: 0.33, time_to_target_s: 50, bytes_up_to_target: 5e6 },
    records: Array.from({ length: 10 }, (_, r) => ({
      round: r, version: r + 1, virtual_time_s: 10 * (r + 1), accuracy: 1 - 0.5 * Math.exp(-r * k), loss: 0.3, bytes_up: 1e6 * (r + 1), bytes_down: 5e6 * (r + 1),
      participants: 8, dispatched: 10, dropped: 1, late: 1, refused: 0, attackers: 0, mean_staleness: 0, wall_s: r,
    })),
  };
}

test('the HTML report renders in headless Chromium: charts and the comparison table are in the DOM and on the screenshot', { skip: !existsSync(CHROMIUM) && 'Debian chromium is not installed (apt-get install chromium)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-report-'));
  try {
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReport('sweep <demo>', 'two codecs side by side', [run('int8', 0.5), run('fp16', 0.3)]));
    const common = [...FLAGS, `--user-data-dir=${join(dir, 'profile')}`];
    const dom = spawnSync(CHROMIUM, [...common, '--dump-dom', `file://${file}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(dom.status, 0, dom.stderr);
    // What Chromium parsed: four charts with drawn paths, the escaped title, both runs in the table.
    assert.equal((dom.stdout.match(/<svg /g) ?? []).length, 5, 'three accuracy charts and two participation charts');
    assert.ok((dom.stdout.match(/<path d="M/g) ?? []).length >= 6, 'each accuracy chart draws both runs');
    assert.match(dom.stdout, /<h1>sweep &lt;demo&gt;<\/h1>/);
    assert.match(dom.stdout, /<td>int8<\/td>[\s\S]*<td>fp16<\/td>/);
    const png = join(dir, 'report.png');
    const shot = spawnSync(CHROMIUM, [...common, `--screenshot=${png}`, '--window-size=1200,1000', `file://${file}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(shot.status, 0, shot.stderr);
    // A blank 1200x1000 page compresses to a few kilobytes; charts and text make it far larger.
    assert.ok(statSync(png).size > 30_000, `screenshot of ${statSync(png).size} bytes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
