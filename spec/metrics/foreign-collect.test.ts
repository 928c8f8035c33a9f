/**
 * Metrics that other code registered in an injected prom-client registry run their own `collect()`
 * when read. One that hangs or throws is left out of the scrape (logged), within `collectTimeoutMs`,
 * like an `onCollect` callback: before, a hanging one held every scrape (a real Prometheus marked
 * the target down) and a throwing one failed every scrape with a 500.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import * as client from 'prom-client';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

describeWithServers(
  'prometheus metrics: collect() of metrics registered by other code',
  skipPrometheus(),
  () => {
    let metrics: PrometheusMetrics;
    let prom: PrometheusServer;
    let url: string;
    const warnings: { message: string; metric: unknown }[] = [];
    let feeds = 0;

    before(async () => {
      const registry = new client.Registry();
      new client.Gauge({
        name: 'pool_waiting',
        help: 'A collect() that never settles (a query to a database that does not answer)',
        registers: [registry],
        collect: () => new Promise<void>(() => {}),
      });
      new client.Gauge({
        name: 'pool_broken',
        help: 'A collect() that throws',
        registers: [registry],
        collect() {
          throw new Error('pool is gone');
        },
      });
      const healthy = new client.Gauge({
        name: 'pool_size',
        help: 'A collect() that works',
        registers: [registry],
        collect() {
          healthy.set(4);
        },
      });
      // The harness scrapes every second with a 1 s timeout: collectTimeoutMs stays below it.
      metrics = createMetrics({
        registry,
        port: 0,
        collectTimeoutMs: 300,
        logger: { warn: (message, fields) => void warnings.push({ message, metric: fields?.metric }) },
      });
      metrics.gauge({ name: 'queue_depth', help: 'Jobs waiting' }).set(7);
      // Their gauge, set by an onCollect callback: read after it, so a scrape shows this scrape's value.
      const fed = new client.Gauge({ name: 'pool_fed', help: 'Set by onCollect', registers: [registry] });
      metrics.onCollect(() => fed.set(++feeds));
      const addr = (await metrics.listen())!;
      url = addr.url;
      prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${addr.port}`] });
    });

    after(async () => {
      await prom?.stop();
      await metrics?.close();
    });

    it('a scrape answers within the bound, without the failing metrics; each failure is logged', async () => {
      warnings.length = 0;
      const started = performance.now();
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      const took = performance.now() - started;
      assert.equal(res.status, 200);
      const body = await res.text();
      assert.ok(took < 1_500, `the scrape took ${Math.round(took)} ms`);
      assert.match(body, /^queue_depth 7$/m);
      assert.match(body, /^pool_size 4$/m);
      assert.match(body, new RegExp(`^pool_fed ${feeds}$`, 'm'));
      assert.doesNotMatch(body, /pool_waiting|pool_broken/);
      assert.deepEqual(warnings.map((w) => w.metric).sort(), ['pool_broken', 'pool_waiting']);
    });

    it('a real Prometheus scrapes the target (up 1) and stores the healthy series', async () => {
      const up = await prom.waitForSeries('up', (s) => s.length > 0 && s[0]!.value === 1, {
        timeoutMs: 15_000,
      });
      assert.equal(up[0]!.value, 1);
      const size = await prom.waitForSeries('pool_size', (s) => s.length > 0, { timeoutMs: 15_000 });
      assert.equal(size[0]!.value, 4);
      assert.deepEqual(await prom.query('pool_waiting'), []);
    });
  },
);
