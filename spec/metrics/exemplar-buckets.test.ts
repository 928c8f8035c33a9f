/**
 * A histogram's exemplars sit in the bucket their observation fell in. prom-client keys the +Inf
 * bucket's exemplar `'-1'`, the key of a bucket of bound -1 too (negative buckets are allowed): an
 * observation above the last bound showed its exemplar on `le="-1"` as well (a value of 5 in the
 * bucket of values up to -1, stored so by Prometheus), and one of that bucket replaced the +Inf
 * bucket's. `HYPERION_EXEMPLAR_RUNS` (default 100), `HYPERION_EXEMPLAR_SEED` to replay.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers, freePort, waitFor } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const RUNS = Number(process.env.HYPERION_EXEMPLAR_RUNS ?? 100);
const SEED =
  process.env.HYPERION_EXEMPLAR_SEED === undefined ? undefined : Number(process.env.HYPERION_EXEMPLAR_SEED);

const OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';
const ABOVE = '0af7651916cd43dd8448eb211c80319c'; // observed above the last bound: +Inf only
const LOW = '4bf92f3577b34da6a3ce929d0e0e4736'; // observed in the bucket le="-1"

/** `le` → the exemplar (trace id, value) of each `<name>_bucket` line of an OpenMetrics exposition. */
function exemplarsOf(om: string, name: string): Map<string, { traceId: string; value: number }> {
  const out = new Map<string, { traceId: string; value: number }>();
  const line = new RegExp(`^${name}_bucket\\{.*le="([^"]+)"\\} \\S+ # \\{trace_id="([^"]+)"\\} (\\S+) \\S+$`);
  for (const l of om.split('\n')) {
    const m = line.exec(l);
    if (m) out.set(m[1]!, { traceId: m[2]!, value: Number(m[3]) });
  }
  return out;
}

it(`property: each bucket's exemplar is the last observation that fell in that bucket (${RUNS} runs)`, async () => {
  const bound = fc.constantFrom(-10, -2, -1, -0.5, 0, 0.5, 1, 2, 10);
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(bound, { minLength: 1, maxLength: 6 }).map((b) => b.sort((x, y) => x - y)),
      fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 12 }),
      async (buckets, values) => {
        const metrics = createMetrics({ logger: { warn() {} } });
        try {
          const h = metrics.histogram({ name: 'delta', help: 'd', buckets });
          /** The last observation of each bucket, as the exposition must show it. */
          const want = new Map<string, { traceId: string; value: number }>();
          values.forEach((v, i) => {
            const traceId = i.toString(16).padStart(32, '0');
            h.observe({}, v, { trace_id: traceId });
            const le = buckets.find((b) => v <= b);
            // -0 is written as 0.
            want.set(le === undefined ? '+Inf' : String(le), { traceId, value: v === 0 ? 0 : v });
          });
          const { body } = await metrics.render(OPENMETRICS);
          assert.deepEqual(
            [...exemplarsOf(body, 'delta')].sort(),
            [...want].sort(),
            `buckets ${JSON.stringify(buckets)}, observed ${JSON.stringify(values)}`,
          );
        } finally {
          await metrics.close();
        }
      },
    ),
    { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
  );
});

describeWithServers(
  'exemplars of a histogram with a bucket of bound -1, scraped by Prometheus',
  skipPrometheus(),
  () => {
    let metrics: PrometheusMetrics;
    let prom: PrometheusServer;

    before(async () => {
      const port = await freePort();
      metrics = createMetrics({ port, logger: { warn() {} } });
      await metrics.listen();
      const h = metrics.histogram({
        name: 'temperature_delta',
        help: 'Change per reading',
        buckets: [-1, 0, 1],
      });
      h.observe({}, 5, { trace_id: ABOVE });
      h.observe({}, -3, { trace_id: LOW });
      prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`], features: ['exemplar-storage'] });
    });

    after(async () => {
      await prom?.stop();
      await metrics?.close();
    });

    it('stores the exemplar of 5 on le="+Inf" alone and that of -3 on le="-1" alone', async () => {
      await prom.waitForSeries('temperature_delta_count', (s) => s[0]?.value === 2);
      type Found = { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string> }[] };
      // Both exemplars arrive with the first scrape that reads the histogram.
      const now = Date.now() / 1000;
      const query = `/api/v1/query_exemplars?query=${encodeURIComponent('temperature_delta_bucket')}&start=${now - 600}&end=${now + 600}`;
      const found = await waitFor(
        async () => {
          const f = (await prom.api(query)) as Found[];
          return f.length > 0 ? f : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: 'the exemplars of temperature_delta' },
      );
      const byLe = () => {
        const m = new Map<string, string[]>();
        for (const f of found)
          m.set(f.seriesLabels.le!, [...new Set(f.exemplars.map((e) => e.labels.trace_id!))].sort());
        return m;
      };
      assert.deepEqual([...byLe()].sort(), [
        ['+Inf', [ABOVE]],
        ['-1', [LOW]],
      ]);
    });
  },
);
