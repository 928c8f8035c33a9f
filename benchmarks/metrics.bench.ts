/**
 * Metrics benchmark: the adapter's hot paths against raw prom-client in the same run (counter
 * inc, labelled counter inc, labelled histogram observe), and the render time of the exposition
 * with 10,000 series (our renderer vs prom-client's `registry.metrics()`). Each task runs a batch
 * of calls so the figures are per call, not timer noise. Goal: adapter overhead ≤ 3 %.
 * `--fallback` adds a column: the adapter on prom-client's public API, what it switches to (with one
 * warning) when prom-internals.ts finds prom-client's private storage changed. It is off by default
 * because both paths in one process make the adapter's call sites polymorphic.
 *
 *   npm run bench:metrics [-- --json OUT] [-- --time MS] [-- --fallback]
 */
import { writeFileSync } from 'node:fs';
import * as client from 'prom-client';
import { Bench } from 'tinybench';
import { createMetricsWith } from '../lib/metrics/prometheus/create.js';
import { createMetrics, type PrometheusMetrics } from '../lib/metrics/prometheus/index.js';
import { benchArgs, numberArg } from './lib/args.js';

const USAGE = `usage:
  npm run bench:metrics [-- --json OUT] [-- --time MS] [-- --fallback]`;
const args = benchArgs(USAGE, {
  json: { type: 'string' },
  time: { type: 'string', default: '1500' },
  fallback: { type: 'boolean', default: false },
});
const timeMs = numberArg(USAGE, 'time', args.time, { min: 1 });
const BATCH = 1000;
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const ROUTES = ['/users/:id', '/orders/:id', '/health', '/search'];
const STATUSES = ['200', '404', '500'];
// Pre-built label objects: both sides get the same inputs, so only the library work is measured.
const counterLabels = METHODS.flatMap((method) =>
  ROUTES.flatMap((route) => STATUSES.map((status) => ({ method, route, status }))),
);
const histLabels = METHODS.flatMap((method) => ROUTES.map((route) => ({ method, route })));
const values = Array.from({ length: 64 }, (_, i) => (i * 0.0137) % 3);

// --- peers
const rawRegistry = new client.Registry();
const rawCounter = new client.Counter({ name: 'plain_total', help: 'x', registers: [rawRegistry] });
const rawLabelled = new client.Counter({
  name: 'requests_total',
  help: 'x',
  labelNames: ['method', 'route', 'status'],
  registers: [rawRegistry],
});
const rawHist = new client.Histogram({
  name: 'request_duration_seconds',
  help: 'x',
  labelNames: ['method', 'route'],
  registers: [rawRegistry],
});

/** The three instruments of the per-call tasks, on one adapter. */
function instruments(m: PrometheusMetrics) {
  return {
    counter: m.counter({ name: 'plain_total', help: 'x' }),
    labelled: m.counter({ name: 'requests_total', help: 'x', labelNames: ['method', 'route', 'status'] }),
    hist: m.histogram({ name: 'request_duration_seconds', help: 'x', labelNames: ['method', 'route'] }),
  };
}
const FORCE_FALLBACK = { probe: { ok: false, reason: 'benchmark of the fallback' } } as const;
const quiet = { warn() {} };
const metrics = createMetrics({ namespace: 'bench' });
const ours = instruments(metrics);
const fallbackMetrics = args.fallback
  ? createMetricsWith({ namespace: 'bench', logger: quiet }, FORCE_FALLBACK)
  : undefined;
const fb = fallbackMetrics && instruments(fallbackMetrics);

// --- 10,000 series for the render comparison (same data in both registries)
const SERIES = 10_000;
const renderRaw = new client.Registry();
const renderRawCounter = new client.Counter({
  name: 'items_total',
  help: 'x',
  labelNames: ['shard', 'item'],
  registers: [renderRaw],
});
const renderOurs = createMetrics({ maxSeriesPerMetric: SERIES });
const renderFallback = args.fallback
  ? createMetricsWith({ maxSeriesPerMetric: SERIES, logger: quiet }, FORCE_FALLBACK)
  : undefined;
const itemCounter = (m: PrometheusMetrics) =>
  m.counter({ name: 'items_total', help: 'x', labelNames: ['shard', 'item'] });
const renderOurCounter = itemCounter(renderOurs);
const renderFallbackCounter = renderFallback && itemCounter(renderFallback);
for (let i = 0; i < SERIES; i++) {
  const labels = { shard: String(i % 16), item: `item-${i}` };
  renderRawCounter.inc(labels, i);
  renderOurCounter.inc(labels, i);
  renderFallbackCounter?.inc(labels, i);
}
for (const m of [renderOurs, renderFallback ?? renderOurs]) {
  const n = m.seriesCount('items_total');
  if (n !== SERIES) throw new Error(`expected ${SERIES} series, have ${n}`);
}

let sink = 0;
const bench = new Bench({ time: timeMs, warmupTime: 300 });
const trios: [string, string, string, string | undefined][] = [];
function trio(label: string, raw: () => unknown, adapter: () => unknown, fallback: () => unknown) {
  bench.add(`${label} · prom-client`, raw);
  bench.add(`${label} · adapter`, adapter);
  if (args.fallback) bench.add(`${label} · fallback`, fallback);
  trios.push([
    label,
    `${label} · prom-client`,
    `${label} · adapter`,
    args.fallback ? `${label} · fallback` : undefined,
  ]);
}

trio(
  `counter.inc() ×${BATCH}`,
  () => {
    for (let i = 0; i < BATCH; i++) rawCounter.inc();
  },
  () => {
    for (let i = 0; i < BATCH; i++) ours.counter.inc();
  },
  () => {
    for (let i = 0; i < BATCH; i++) fb!.counter.inc();
  },
);
trio(
  `labelled counter.inc(3 labels) ×${BATCH}`,
  () => {
    for (let i = 0; i < BATCH; i++) rawLabelled.inc(counterLabels[i % counterLabels.length]!, 1);
  },
  () => {
    for (let i = 0; i < BATCH; i++) ours.labelled.inc(counterLabels[i % counterLabels.length]!, 1);
  },
  () => {
    for (let i = 0; i < BATCH; i++) fb!.labelled.inc(counterLabels[i % counterLabels.length]!, 1);
  },
);
trio(
  `histogram.observe(2 labels) ×${BATCH}`,
  () => {
    for (let i = 0; i < BATCH; i++) rawHist.observe(histLabels[i % histLabels.length]!, values[i & 63]!);
  },
  () => {
    for (let i = 0; i < BATCH; i++) ours.hist.observe(histLabels[i % histLabels.length]!, values[i & 63]!);
  },
  () => {
    for (let i = 0; i < BATCH; i++) fb!.hist.observe(histLabels[i % histLabels.length]!, values[i & 63]!);
  },
);
trio(
  `render ${SERIES} series (text)`,
  async () => {
    sink += (await renderRaw.metrics()).length;
  },
  async () => {
    sink += (await renderOurs.render()).body.length;
  },
  async () => {
    sink += (await renderFallback!.render()).body.length;
  },
);

// Interleaved order would be fairer still; tinybench runs tasks in order, so run twice and keep the second.
await bench.run();
bench.reset?.();
await bench.run();

const median = (name: string) => {
  const r = bench.getTask(name)?.result as { latency?: { p50: number } } | undefined;
  if (!r?.latency) throw new Error(`no result for ${name}`);
  return r.latency.p50;
};
const rows = trios.map(([label, raw, adapter, fallback]) => {
  const rawMs = median(raw);
  const ourMs = median(adapter);
  const fbMs = fallback ? median(fallback) : Number.NaN;
  const perCall = label.startsWith('render') ? 1 : BATCH;
  return {
    task: label,
    rawNsPerCall: (rawMs * 1e6) / perCall,
    adapterNsPerCall: (ourMs * 1e6) / perCall,
    overheadPct: (ourMs / rawMs - 1) * 100,
    // Only with --fallback, so the default JSON keeps its shape.
    ...(fallback
      ? { fallbackNsPerCall: (fbMs * 1e6) / perCall, fallbackOverheadPct: (fbMs / rawMs - 1) * 100 }
      : {}),
  };
});

console.log(
  `\nmetrics adapter vs raw prom-client (median of ${timeMs} ms per task, node ${process.version})\n`,
);
const pct = (p: number) => `${p >= 0 ? '+' : ''}${p.toFixed(1)} %`;
const fbHead = args.fallback ? ` ${'fallback'.padStart(14)} ${'overhead'.padStart(10)}` : '';
console.log(
  `${'task'.padEnd(40)} ${'prom-client'.padStart(14)} ${'adapter'.padStart(14)} ${'overhead'.padStart(10)}${fbHead}`,
);
for (const r of rows) {
  const unit = r.task.startsWith('render') ? 'ms' : 'ns/call';
  const f = (ns: number) => (unit === 'ms' ? `${(ns / 1e6).toFixed(2)} ms` : `${ns.toFixed(1)} ns`);
  const fbCols = args.fallback
    ? ` ${f(r.fallbackNsPerCall ?? Number.NaN).padStart(14)} ${pct(r.fallbackOverheadPct ?? Number.NaN).padStart(10)}`
    : '';
  console.log(
    `${r.task.padEnd(40)} ${f(r.rawNsPerCall).padStart(14)} ${f(r.adapterNsPerCall).padStart(14)} ${pct(r.overheadPct).padStart(10)}${fbCols}`,
  );
}
const worst = Math.max(...rows.map((r) => r.overheadPct));
console.log(`\nworst overhead ${worst.toFixed(1)} % (goal ≤ 3 %) ${worst <= 3 ? 'MET' : 'NOT MET'}`);
if (args.json) writeFileSync(args.json, `${JSON.stringify({ timeMs, rows }, null, 2)}\n`);
if (sink < 0) console.log(sink);
await Promise.all([metrics, fallbackMetrics, renderOurs, renderFallback].map((m) => m?.close()));
