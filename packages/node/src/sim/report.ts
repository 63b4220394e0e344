import type { RoundRecord, SimSummary } from './types.js';

/** One run's results, as a report shows them. */
export interface ReportRun {
  readonly summary: SimSummary;
  readonly records: readonly RoundRecord[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const W = 560;
const H = 300;
const PAD = { l: 56, r: 16, t: 44, b: 44 };

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(x / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return a >= 10 ? x.toFixed(0) : a >= 1 ? x.toFixed(1) : x.toFixed(2);
}

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** A line chart as inline SVG: one series per run. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: { name: string; points: [number, number][] }[]): string {
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0) return `<figure><figcaption>${esc(title)}: no data</figcaption></figure>`;
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) === Math.min(...xs) ? Math.min(...xs) + 1 : Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const px = (x: number) => PAD.l + ((x - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
  const py = (y: number) => H - PAD.b - ((y - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);
  const grid = ticks(y0, y1)
    .map((v) => `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${py(v).toFixed(1)}" y2="${py(v).toFixed(1)}" class="grid"/><text x="${PAD.l - 6}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`)
    .join('');
  const xt = ticks(x0, x1)
    .map((v) => `<text x="${px(v).toFixed(1)}" y="${H - PAD.b + 16}" text-anchor="middle">${fmt(v)}</text>`)
    .join('');
  const lines = series
    .map((s, i) => {
      const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join('');
      return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"><title>${esc(s.name)}</title></path>`;
    })
    .join('');
  const legend =
    series.length > 1
      ? series.map((s, i) => `<tspan fill="${COLORS[i % COLORS.length]}" dx="${i === 0 ? 0 : 12}">■ ${esc(s.name)}</tspan>`).join('')
      : '';
  return `<figure><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">
<text x="${W / 2}" y="16" text-anchor="middle" class="title">${esc(title)}</text>${grid}${xt}
<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${H - PAD.b}" y2="${H - PAD.b}" class="axis"/><line x1="${PAD.l}" x2="${PAD.l}" y1="${PAD.t}" y2="${H - PAD.b}" class="axis"/>
<text x="${(PAD.l + W - PAD.r) / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>
<text transform="translate(14 ${(PAD.t + H - PAD.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>
<text x="${PAD.l}" y="34">${legend}</text>${lines}</svg></figure>`;
}

/** Participation per round of one run: stacked bars of participants, late and dropped. */
export function participationChart(run: ReportRun): string {
  const rs = run.records;
  if (rs.length === 0) return '';
  const maxN = Math.max(...rs.map((r) => r.dispatched), 1);
  const bw = (W - PAD.l - PAD.r) / rs.length;
  const py = (v: number) => ((H - PAD.t - PAD.b) * v) / maxN;
  const bars = rs
    .map((r, i) => {
      const x = PAD.l + i * bw + bw * 0.1;
      const parts: [number, string, string][] = [
        [r.participants, '#2ca02c', 'used'],
        [r.late, '#ff7f0e', 'late'],
        [r.dropped, '#d62728', 'dropped'],
      ];
      let y = H - PAD.b;
      return parts
        .filter(([v]) => v > 0)
        .map(([v, c, what]) => {
          const h = py(v);
          y -= h;
          return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${c}"><title>round ${r.round}: ${v} ${what}</title></rect>`;
        })
        .join('');
    })
    .join('');
  return `<figure><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="participation">
<text x="${W / 2}" y="16" text-anchor="middle" class="title">Participation per round (${esc(run.summary.label)})</text>
${ticks(0, maxN)
  .map((v) => `<text x="${PAD.l - 6}" y="${(H - PAD.b - py(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`)
  .join('')}
<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${H - PAD.b}" y2="${H - PAD.b}" class="axis"/>${bars}
<text x="${PAD.l}" y="34"><tspan fill="#2ca02c">■ used</tspan><tspan dx="12" fill="#ff7f0e">■ late</tspan><tspan dx="12" fill="#d62728">■ dropped</tspan></text>
<text x="${(PAD.l + W - PAD.r) / 2}" y="${H - 8}" text-anchor="middle">round</text></svg></figure>`;
}

function summaryTable(runs: readonly ReportRun[]): string {
  const head = ['run', 'final accuracy', 'final loss', 'rounds', 'virtual time', 'bytes up', 'bytes down', 'to target (virtual)', 'bytes up to target', 'wall time', 'peak RSS'];
  const rows = runs.map(({ summary: s }) =>
    [
      s.label,
      s.final_accuracy.toFixed(4),
      s.final_loss.toFixed(4),
      String(s.rounds),
      `${s.virtual_time_s.toFixed(1)} s`,
      fmt(s.bytes_up),
      fmt(s.bytes_down),
      s.time_to_target_s === null ? '-' : `${s.time_to_target_s.toFixed(1)} s`,
      s.bytes_up_to_target === null ? '-' : fmt(s.bytes_up_to_target),
      `${s.wall_time_s.toFixed(1)} s`,
      `${s.peak_rss_mb} MB`,
    ]
      .map((c) => `<td>${esc(c)}</td>`)
      .join(''),
  );
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r}</tr>`).join('')}</tbody></table>`;
}

function oneShotTables(runs: readonly ReportRun[]): string {
  return runs
    .filter((r) => r.summary.oneshot !== undefined)
    .map((r) => {
      const o = r.summary.oneshot!;
      const rows = o.rows.map((x) => `<tr><td>${esc(x.method)}</td><td>${x.accuracy.toFixed(4)}</td><td>${x.loss === null ? '-' : x.loss.toFixed(4)}</td></tr>`).join('');
      const di = o.differentInit
        ? `<p>Two models from different initialisations (alone: ${o.differentInit.models.map((a) => a.toFixed(4)).join(', ')}): plain average ${o.differentInit.average.toFixed(4)}, weight matching then average ${o.differentInit.weightMatching.toFixed(4)}.</p>`
        : '';
      return `<h2>One-shot merging (${esc(r.summary.label)})</h2><table><thead><tr><th>model</th><th>test accuracy</th><th>test loss</th></tr></thead><tbody>${rows}</tbody></table>${di}`;
    })
    .join('\n');
}

/** A self-contained HTML report (no scripts, no external resources) for one or more runs of a scenario. */
export function renderReport(title: string, description: string, runs: readonly ReportRun[], sections: readonly string[] = []): string {
  const evaluated = (r: ReportRun) => r.records.filter((x) => x.accuracy !== null);
  const series = (x: (r: RoundRecord) => number) => runs.map((r) => ({ name: r.summary.label, points: evaluated(r).map((rec): [number, number] => [x(rec), rec.accuracy!]) }));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}: fednode simulation</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:20px;margin:0 0 4px}p.desc{color:#555;margin:0 0 16px}
table{border-collapse:collapse;margin:12px 0 20px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #eee}
svg text{font-size:11px;fill:#333}svg .title{font-size:13px;font-weight:600}svg .grid{stroke:#eee}svg .axis{stroke:#888}
</style></head><body>
<h1>${esc(title)}</h1><p class="desc">${esc(description)}</p>
${summaryTable(runs)}
${oneShotTables(runs)}
<div class="charts">
${lineChart('Test accuracy by round', 'round', 'accuracy', series((r) => r.round + 1))}
${lineChart('Test accuracy by virtual time', 'virtual time (s)', 'accuracy', series((r) => r.virtual_time_s))}
${lineChart('Test accuracy by bytes sent up', 'bytes up (MB)', 'accuracy', series((r) => r.bytes_up / 1e6))}
${runs.map(participationChart).join('\n')}
</div>
${sections.join('\n')}
<p class="desc">Generated by fednode simulate. Time is virtual: it comes from each client's modelled compute speed, links and latency, not from this machine.</p>
</body></html>
`;
}
