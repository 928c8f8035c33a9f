/**
 * Exemplars of metrics other code registered in an injected prom-client registry (an OpenMetrics
 * one: prom-client stores exemplars only there). prom-client takes any exemplar label names and
 * values (it checks their length only): one exemplar named `trace-id`, or holding a NUL, made the
 * OpenMetrics exposition unparsable, and Prometheus failed every scrape of the target
 * (`expected equal, got "INVALID"`) — every series lost for one exemplar. Such an exemplar is now
 * left out (its sample kept) with one warning per metric; valid ones are still served.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import * as client from 'prom-client';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers, freePort, waitFor } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const GOOD = '0af7651916cd43dd8448eb211c80319c';

type Warning = { message: string; fields: Record<string, unknown> | undefined };

/** An OpenMetrics registry of other code's metrics, with one exemplar Prometheus refuses (`bad`). */
function registryWith(bad: 'name' | 'nul'): client.Registry {
  // prom-client's types declare no argument.
  const registry = new (client.Registry as unknown as new (contentType: string) => client.Registry)(
    client.Registry.OPENMETRICS_CONTENT_TYPE,
  );
  const jobs = new client.Histogram({
    name: 'jobs_seconds',
    help: 'Job time',
    buckets: [1],
    registers: [registry],
    enableExemplars: true,
  });
  const retries = new client.Counter({
    name: 'retries_total',
    help: 'Retries',
    registers: [registry],
    enableExemplars: true,
  });
  const ok = new client.Histogram({
    name: 'queue_wait_seconds',
    help: 'Queue wait',
    buckets: [1],
    registers: [registry],
    enableExemplars: true,
  });
  if (bad === 'name') jobs.observe({ labels: {}, value: 0.5, exemplarLabels: { 'trace-id': GOOD } });
  else retries.inc({ labels: {}, value: 2, exemplarLabels: { trace_id: 'a\u0000b' } });
  if (bad === 'name') retries.inc({ labels: {}, value: 2 });
  else jobs.observe({ labels: {}, value: 0.5 });
  ok.observe({ labels: {}, value: 0.25, exemplarLabels: { trace_id: GOOD } });
  return registry;
}

describeWithServers(
  'exemplars of other code’s metrics that Prometheus would refuse',
  skipPrometheus(),
  () => {
    const adapters: { metrics: PrometheusMetrics; port: number; warnings: Warning[] }[] = [];
    let prom: PrometheusServer;

    before(async () => {
      for (const bad of ['name', 'nul'] as const) {
        const port = await freePort();
        const warnings: Warning[] = [];
        const metrics = createMetrics({
          port,
          registry: registryWith(bad),
          logger: { warn: (message, fields) => void warnings.push({ message, fields }) },
        });
        metrics.counter({ name: 'orders', help: 'Orders placed' }).inc(3);
        await metrics.listen();
        adapters.push({ metrics, port, warnings });
      }
      prom = await startPrometheus({
        scrapeTargets: adapters.map((a) => `127.0.0.1:${a.port}`),
        features: ['exemplar-storage'],
      });
    });

    after(async () => {
      await prom?.stop();
      for (const a of adapters) await a.metrics.close();
    });

    it('leaves the exemplar out, keeps its sample, and the target up', async () => {
      // Both targets up, every series of each stored: the sample whose exemplar was left out too.
      await prom.waitForSeries('up{job="hyperion"} == 1', (s) => s.length === 2, { timeoutMs: 20_000 });
      const orders = await prom.waitForSeries('orders_total', (s) => s.length === 2);
      assert.deepEqual(
        orders.map((s) => s.value),
        [3, 3],
      );
      const retries = await prom.waitForSeries('retries_total', (s) => s.length === 2);
      assert.deepEqual(
        retries.map((s) => s.value),
        [2, 2],
      );
      const jobs = await prom.waitForSeries('jobs_seconds_count', (s) => s.length === 2);
      assert.deepEqual(
        jobs.map((s) => s.value),
        [1, 1],
      );
      // A valid exemplar of other code's metric still reaches Prometheus, from both targets.
      const now = Date.now() / 1000;
      const query = `/api/v1/query_exemplars?query=${encodeURIComponent('queue_wait_seconds_bucket')}&start=${now - 600}&end=${now + 600}`;
      type Found = { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string> }[] };
      const found = await waitFor(
        async () => {
          const f = (await prom.api(query)) as Found[];
          return f.length === 2 ? f : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250, what: 'the exemplars of queue_wait_seconds' },
      );
      assert.deepEqual(
        found.map((f) => f.exemplars.map((e) => e.labels.trace_id)),
        [[GOOD], [GOOD]],
      );
    });

    it('warns once per metric, naming it and what Prometheus refuses, never the value', async () => {
      // Several scrapes have gone by (the test above waited for them): still one warning each.
      const [byName, byNul] = adapters as [(typeof adapters)[0], (typeof adapters)[0]];
      for (const a of adapters) await a.metrics.render('application/openmetrics-text');
      const left = (w: Warning[]) => w.filter((x) => x.message.includes('exemplar'));
      assert.deepEqual(
        left(byName.warnings).map((w) => w.fields),
        [{ metric: 'jobs_seconds', reason: 'its label name "trace-id" is not [a-zA-Z_][a-zA-Z0-9_]*' }],
      );
      assert.deepEqual(
        left(byNul.warnings).map((w) => w.fields),
        [{ metric: 'retries_total', reason: 'its label "trace_id" holds a NUL character' }],
      );
      // The Prometheus text format carries no exemplars: nothing left out, nothing to warn about.
      const text = (await byName.metrics.render()).body;
      assert.match(text, /^jobs_seconds_bucket\{le="1"\} 1$/m);
    });
  },
);
