/**
 * A metric other code registers in the injected registry AFTER the adapter's, under a name one of
 * ours exposes: prom-client takes it (its key differs: their counter `orders` beside our
 * `orders_total`; their gauge `http_server_request_duration_seconds_count` beside our histogram),
 * and the scrape used to hold the name twice: a duplicate `orders` family in OpenMetrics, a second
 * HELP for the histogram in the text format (`promtool check metrics`: "text format parsing
 * error … second HELP line"). A real Prometheus (2.42) mis-read it without a word: their gauge was
 * stored as one more series of our histogram's `_count`, one of the two `orders_total` samples
 * dropped. Now ours are kept, theirs is left out of the scrape, with one warning naming both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'prom-client';
import { createMetricsWith } from '../../lib/metrics/prometheus/create.js';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const OM = 'application/openmetrics-text; version=1.0.0';

/** Family names declared more than once in an exposition (`# TYPE` lines). */
function duplicateFamilies(body: string): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const m of body.matchAll(/^# TYPE (\S+) /gm)) {
    if (seen.has(m[1]!)) dup.push(m[1]!);
    seen.add(m[1]!);
  }
  return dup;
}

for (const [path, internals] of [
  ['fast path', true],
  ['public-API fallback', false],
] as const) {
  describe(`prometheus metrics: other code's metric registered later under a name of ours (${path})`, () => {
    it('is left out of every scrape, ours kept, one warning per metric', async () => {
      const registry = new client.Registry();
      const warnings: { message: string; fields: Record<string, unknown> | undefined }[] = [];
      const m = createMetricsWith(
        { registry, logger: { warn: (message, fields) => void warnings.push({ message, fields }) } },
        internals ? {} : { probe: { ok: false, reason: 'forced' } },
      );
      try {
        const fallbackWarnings = warnings.length;
        m.counter({ name: 'orders', help: 'ours' }).inc();
        m.observeRequest({ method: 'GET', route: '/a', status: 200, seconds: 0.01 });
        new client.Counter({ name: 'orders', help: 'theirs', registers: [registry] }).inc(5);
        new client.Gauge({
          name: 'http_server_request_duration_seconds_count',
          help: 'theirs',
          registers: [registry],
        }).set(9);
        // Two of theirs clashing with each other: the first registered is kept.
        new client.Counter({ name: 'jobs', help: 'theirs, first', registers: [registry] }).inc(2);
        new client.Gauge({ name: 'jobs_total', help: 'theirs, second', registers: [registry] }).set(3);
        for (let i = 0; i < 3; i++)
          for (const accept of ['text/plain', OM]) {
            const { body } = await m.render(accept);
            assert.deepEqual(duplicateFamilies(body), [], body);
            assert.match(body, /^orders_total 1$/m);
            assert.doesNotMatch(body, /^orders(_total)? 5$/m);
            assert.doesNotMatch(body, /^http_server_request_duration_seconds_count 9$/m);
            assert.match(body, /^http_server_request_duration_seconds_count\{[^}]*\} 1$/m);
            assert.match(body, /^jobs(_total)? 2$/m);
            assert.doesNotMatch(body, /^jobs_total 3$/m);
          }
        const clash = warnings
          .slice(fallbackWarnings)
          .filter((w) => /left out of every scrape/.test(w.message));
        assert.deepEqual(
          clash.map((w) => w.fields),
          [
            { metric: 'orders', exposed: 'orders', holder: 'orders_total' },
            {
              metric: 'http_server_request_duration_seconds_count',
              exposed: 'http_server_request_duration_seconds_count',
              holder: 'http_server_request_duration_seconds',
            },
            { metric: 'jobs_total', exposed: 'jobs_total', holder: 'jobs' },
          ],
        );
      } finally {
        await m.close();
      }
    });

    it('is not read either: its collect() no longer holds or fails the scrape', async () => {
      const registry = new client.Registry();
      const warnings: string[] = [];
      const m = createMetricsWith(
        { registry, collectTimeoutMs: 30_000, logger: { warn: (message) => void warnings.push(message) } },
        internals ? {} : { probe: { ok: false, reason: 'forced' } },
      );
      try {
        m.counter({ name: 'orders', help: 'ours' }).inc();
        let collects = 0;
        new client.Counter({
          name: 'orders',
          help: 'theirs, collect() never settles',
          registers: [registry],
          collect: () => {
            collects++;
            return new Promise<void>(() => {});
          },
        });
        // Bounded: the old code waited collectTimeoutMs (30 s) here.
        const { body } = await Promise.race([
          m.render(),
          new Promise<never>((_, reject) => {
            setTimeout(() => reject(new Error('render() waited on the left-out metric')), 10_000).unref();
          }),
        ]);
        assert.match(body, /^orders_total 1$/m);
        assert.equal(collects, 0);
        assert.equal(warnings.filter((w) => /reading it failed/.test(w)).length, 0, warnings.join('\n'));
      } finally {
        await m.close({ timeoutMs: 1000 });
      }
    });
  });
}

describeWithServers(
  "prometheus metrics: a real Prometheus scrapes a registry where other code's metric clashes with ours",
  skipPrometheus(),
  () => {
    let metrics: PrometheusMetrics;
    let prom: PrometheusServer;
    const warnings: string[] = [];

    before(async () => {
      const registry = new client.Registry();
      metrics = createMetrics({
        registry,
        port: 0,
        logger: { warn: (message) => void warnings.push(message) },
      });
      metrics.counter({ name: 'orders', help: 'ours' }).inc();
      metrics.observeRequest({ method: 'GET', route: '/a', status: 200, seconds: 0.01 });
      new client.Counter({ name: 'orders', help: 'theirs', registers: [registry] }).inc(5);
      new client.Gauge({
        name: 'http_server_request_duration_seconds_count',
        help: 'theirs',
        registers: [registry],
      }).set(9);
      const { port } = (await metrics.listen())!;
      prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`] });
    });

    after(async () => {
      await prom?.stop();
      await metrics?.close({ timeoutMs: 1000 });
    });

    it('stores only our series (before: their gauge was stored as one more series of our histogram count)', async () => {
      // A few scrapes (every second), all up.
      await prom.waitForSeries('count_over_time(up[1m]) >= 3', (s) => s.length > 0, { timeoutMs: 20_000 });
      const up = await prom.query('min_over_time(up[1m])');
      assert.equal(up[0]?.value, 1);
      const count = await prom.query('http_server_request_duration_seconds_count');
      assert.deepEqual(
        count.map((s) => [s.metric.http_route, s.value]),
        [['/a', 1]],
      );
      // Both families wrote the sample `orders_total` (OpenMetrics): Prometheus kept one without a word.
      const orders = await prom.query('orders_total');
      assert.deepEqual(
        orders.map((s) => s.value),
        [1],
      );
      assert.equal(warnings.filter((w) => /left out of every scrape/.test(w)).length, 2, warnings.join('\n'));
    });
  },
);
