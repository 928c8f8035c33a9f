/** Reads the Prometheus text exposition back into samples, so tests compare values rather than text. */
import type { MetricSample } from '../conformance/metrics.js';

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$/;
const PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const SPECIAL: Record<string, number> = { '+Inf': Infinity, '-Inf': -Infinity, NaN: Number.NaN };

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

export function parseExposition(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(PAIR)) labels[k as string] = unescapeLabel(v as string);
    const raw = m[3] as string;
    out.push({
      name: m[1] as string,
      labels,
      value: raw in SPECIAL ? (SPECIAL[raw] as number) : Number(raw),
    });
  }
  return out;
}
