/**
 * Checks that the raw-SDK twin records what the demo records, so the benchmark compares like with
 * like: one cold and one cached `GET /users/:id/orders` through each, then the spans (name, kind,
 * parent span name, service, attributes with their values — ports and `url.full` aside, which name
 * each copy's own servers) and the metric names of /metrics, compared as sets.
 * Exits 1 on a difference.
 *
 *   node --import tsx benchmarks/demo-peer/check.ts
 */
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createPgliteDb } from '../../demo/db.js';
import { type RunningServices, startServices } from '../../demo/services/index.js';
import { peerInstrumentation } from './index.js';

const db = await createPgliteDb();
// Keeps what the twin exports (the SDK's in-memory exporter forgets it at shutdown).
const exported: ReadableSpan[] = [];
const exporter: SpanExporter = {
  export(spans, done) {
    exported.push(...spans);
    done({ code: 0 });
  },
  shutdown: async () => {},
};
const ours = await startServices({
  ports: { gateway: 0, user: 0, order: 0 },
  db,
  tracing: { exporter: 'memory', sampleRate: 1 },
  logger: 'error',
});
const twin = await startServices({
  ports: { gateway: 0, user: 0, order: 0 },
  db,
  instrumentation: peerInstrumentation({
    endpoint: 'http://127.0.0.1:9/v1/traces',
    serviceVersion: '0',
    exporter,
  }),
  logger: 'error',
});

const drive = async (s: RunningServices) => {
  for (const path of ['/users/7/orders', '/users/7/orders'])
    await (await fetch(`${s.gateway.url}${path}`)).arrayBuffer();
};
const metricNames = async (s: RunningServices) => {
  const names = new Set<string>();
  for (const svc of s.all) {
    const text = await (await fetch(`${svc.url}/metrics`)).text();
    // OpenMetrics (the twin's registry) names a counter family without `_total`.
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)/gm))
      names.add(`${m[2] === 'counter' ? m[1]!.replace(/_total$/, '') : m[1]} ${m[2]}`);
  }
  return names;
};

/** Attribute values that differ between two copies by construction (each copy has its own ports). */
const PER_COPY = /(\.port|^url\.full)$/;

/** One line per span: what must match (ids and times differ, and the PER_COPY values). */
function shape(spans: readonly ReadableSpan[]): string[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s.name]));
  return spans
    .map((s) =>
      [
        s.resource.attributes['service.name'],
        s.name,
        s.kind,
        `parent=${s.parentSpanContext ? (byId.get(s.parentSpanContext.spanId) ?? '?') : '-'}`,
        Object.keys(s.attributes)
          .sort()
          .map((k) => (PER_COPY.test(k) ? k : `${k}=${JSON.stringify(s.attributes[k])}`))
          .join(','),
      ].join(' | '),
    )
    .sort();
}

let failed = false;
try {
  await drive(ours);
  await drive(twin);
  const [ourMetrics, twinMetrics] = [await metricNames(ours), await metricNames(twin)];
  await new Promise((r) => setTimeout(r, 100)); // server spans end just after the response
  const a = shape(ours.all.flatMap((s) => (s.tracer?.finishedSpans() ?? []) as unknown as ReadableSpan[]));
  await Promise.all([ours.close(), twin.close()]); // the twin's batch processor exports now
  const b = shape(exported);
  const diff = (x: Iterable<string>, y: Iterable<string>) => [...x].filter((v) => ![...y].includes(v));
  const report = (what: string, onlyOurs: string[], onlyTwin: string[]) => {
    if (onlyOurs.length + onlyTwin.length === 0) return console.log(`${what}: same`);
    failed = true;
    console.log(`${what} differ:`);
    for (const l of onlyOurs) console.log(`  only in the demo: ${l}`);
    for (const l of onlyTwin) console.log(`  only in the twin: ${l}`);
  };
  console.log(`spans: demo ${a.length}, twin ${b.length}`);
  report('spans', diff(a, b), diff(b, a));
  // The adapter's own extras, absent from a plain prom-client setup (said in ./metrics.ts).
  const extras = /^(metrics_series_dropped|spans_(dropped|exported)) /;
  report(
    'metric names',
    diff(ourMetrics, twinMetrics).filter((n) => !extras.test(n)),
    diff(twinMetrics, ourMetrics),
  );
} finally {
  await db.close();
}
process.exit(failed ? 1 : 0);
