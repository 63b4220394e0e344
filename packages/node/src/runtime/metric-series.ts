/**
 * A node's counters and gauges and their Prometheus text, apart from the endpoint that serves
 * them (metrics.ts, node:http): a browser peer keeps the same series as a daemon.
 */
type Labels = Readonly<Record<string, string>>;

interface Series {
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly values: Map<string, { labels: Labels; value: number }>;
}

export class Metrics {
  private readonly series = new Map<string, Series>();

  private get(name: string, type: 'counter' | 'gauge', help: string): Series {
    let s = this.series.get(name);
    if (s === undefined) {
      s = { help, type, values: new Map() };
      this.series.set(name, s);
    }
    return s;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const s = this.get(name, 'counter', help);
    const key = labelKey(labels);
    const v = s.values.get(key);
    if (v === undefined) s.values.set(key, { labels, value: by });
    else v.value += by;
  }

  set(name: string, help: string, value: number, labels: Labels = {}): void {
    this.get(name, 'gauge', help).values.set(labelKey(labels), { labels, value });
  }

  value(name: string, labels: Labels = {}): number | undefined {
    return this.series.get(name)?.values.get(labelKey(labels))?.value;
  }

  /** The Prometheus text exposition (version 0.0.4). */
  text(): string {
    const out: string[] = [];
    for (const [name, s] of [...this.series].sort(([a], [b]) => a.localeCompare(b))) {
      out.push(`# HELP ${name} ${s.help}`, `# TYPE ${name} ${s.type}`);
      for (const { labels, value } of s.values.values()) out.push(`${name}${labelText(labels)} ${Number.isFinite(value) ? value : 'NaN'}`);
    }
    return out.join('\n') + '\n';
  }
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${labels[k].replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}
