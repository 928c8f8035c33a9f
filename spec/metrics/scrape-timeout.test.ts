/**
 * A scrape's collection fits the scraper's own timeout: Prometheus sends
 * `X-Prometheus-Scrape-Timeout-Seconds` on every scrape, and a hanging `onCollect` callback (or
 * `collect()` of other code's metric) is skipped in time for the answer to arrive. Before, only
 * `collectTimeoutMs` (5 s by default) bounded it: with a scrape timeout shorter than that
 * (`scrape_interval: 5s` or less), Prometheus gave up first and the target was down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'prom-client';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { scrapeBudgetMs } from '../../lib/metrics/prometheus/server.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

describe('prometheus metrics: the scrape budget from X-Prometheus-Scrape-Timeout-Seconds', () => {
  it('keeps a quarter of the scrape timeout, at most 500 ms, for rendering; ignores unusable values', () => {
    assert.equal(scrapeBudgetMs('1'), 750);
    assert.equal(scrapeBudgetMs('0.2'), 150);
    assert.equal(scrapeBudgetMs('10'), 9500);
    assert.equal(scrapeBudgetMs(['3', '9']), 2500);
    for (const bad of [undefined, '', 'abc', '0', '-1', 'Infinity', 'NaN'])
      assert.equal(scrapeBudgetMs(bad), undefined, String(bad));
  });

  it('a scrape announcing a 1 s timeout is answered with the hanging callback and collect() skipped', async () => {
    const registry = new client.Registry();
    new client.Gauge({
      name: 'pool_hung',
      help: 'A collect() that never settles',
      registers: [registry],
      collect: () => new Promise<void>(() => {}),
    });
    const warnings: string[] = [];
    // A collectTimeoutMs far above the scrape timeout: the scrape's own bound must decide.
    const m = createMetrics({
      registry,
      port: 0,
      collectTimeoutMs: 60_000,
      logger: { warn: (message, fields) => void warnings.push(`${message} ${String(fields?.error)}`) },
    });
    try {
      m.gauge({ name: 'queue_depth', help: 'Jobs waiting' }).set(7);
      m.onCollect(() => new Promise<void>(() => {}));
      const { url } = (await m.listen())!;
      // Bounded wait (the old code answered after collectTimeoutMs, 60 s).
      const res = await fetch(url, {
        headers: { 'x-prometheus-scrape-timeout-seconds': '1' },
        signal: AbortSignal.timeout(20_000),
      });
      assert.equal(res.status, 200);
      const body = await res.text();
      assert.match(body, /^queue_depth 7$/m);
      assert.doesNotMatch(body, /pool_hung/);
      assert.ok(
        warnings.some((w) => /collect callback failed .*did not finish within 750 ms/.test(w)),
        warnings.join('\n'),
      );
      assert.ok(
        warnings.some((w) => /"pool_hung".*collection bound \(750 ms\)/.test(w)),
        warnings.join('\n'),
      );
    } finally {
      await m.close({ timeoutMs: 1000 });
    }
  });

  it('a scrape announcing a 1 s timeout that arrives during a scrape without one is answered within its own budget', async () => {
    // It joined the other scrape's collection (collectTimeoutMs) and, with a callback hanging,
    // waited for all of it: Prometheus saw the target down whenever curl or a health check had
    // scraped just before.
    const warnings: string[] = [];
    const m = createMetrics({
      port: 0,
      collectTimeoutMs: 30_000,
      logger: { warn: (message) => void warnings.push(message) },
    });
    let started!: () => void;
    const collecting = new Promise<void>((resolve) => {
      started = resolve;
    });
    let calls = 0;
    try {
      m.gauge({ name: 'queue_depth', help: 'Jobs waiting' }).set(7);
      m.onCollect(() => {
        calls++;
        started();
        return new Promise<void>(() => {});
      });
      const { url } = (await m.listen())!;
      const slow = fetch(url, { signal: AbortSignal.timeout(60_000) }).then(
        (r) => r.status,
        () => 'cut',
      );
      await collecting;
      // Bounded wait (the old code answered when the first scrape's collection gave up, 30 s).
      const res = await fetch(url, {
        headers: { 'x-prometheus-scrape-timeout-seconds': '1' },
        signal: AbortSignal.timeout(15_000),
      });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^queue_depth 7$/m);
      assert.equal(calls, 1, 'the callback still runs once for both scrapes');
      await m.close({ timeoutMs: 1000 });
      assert.ok(['cut', 200].includes(await slow));
    } finally {
      await m.close({ timeoutMs: 1000 });
    }
  });
});

describeWithServers(
  'prometheus metrics: a real Prometheus whose scrape timeout is shorter than collectTimeoutMs',
  skipPrometheus(),
  () => {
    let metrics: PrometheusMetrics;
    let prom: PrometheusServer;

    before(async () => {
      metrics = createMetrics({ port: 0, collectTimeoutMs: 30_000, logger: { warn() {} } });
      metrics.gauge({ name: 'queue_depth', help: 'Jobs waiting' }).set(7);
      metrics.onCollect(() => new Promise<void>(() => {})); // a pool query to a database that hangs
      const { port } = (await metrics.listen())!;
      // The harness scrapes every second with a 1 s timeout.
      prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`] });
    });

    after(async () => {
      await prom?.stop();
      await metrics?.close({ timeoutMs: 1000 });
    });

    it('the target is up and its series are stored (before: every scrape timed out)', async () => {
      const up = await prom.waitForSeries('up', (s) => s[0]?.value === 1, { timeoutMs: 15_000 });
      assert.equal(up[0]!.value, 1);
      const depth = await prom.waitForSeries('queue_depth', (s) => s.length > 0, { timeoutMs: 15_000 });
      assert.equal(depth[0]!.value, 7);
    });
  },
);
