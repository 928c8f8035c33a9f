import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import type { CacheStats } from '../../lib/core/contracts.js';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

/** A tiny cache exposing `stats()` like the real caches do. */
function tinyCache(name: string) {
  const data = new Map<string, string>();
  let hits = 0;
  let misses = 0;
  return {
    name,
    get(key: string) {
      const v = data.get(key);
      if (v === undefined) misses++;
      else hits++;
      return v;
    },
    set: (key: string, value: string) => void data.set(key, value),
    stats: (): CacheStats => ({ hits, misses, hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses) }),
  };
}

describeWithServers('prometheus metrics: scraped by a real Prometheus', skipPrometheus(), () => {
  let metrics: PrometheusMetrics;
  let prom: PrometheusServer;
  let app: Server;
  let appUrl: string;

  before(async () => {
    metrics = createMetrics({
      namespace: 'hyperion',
      port: 0,
      collectRuntime: true,
      defaultLabels: { service: 'spec' },
    });
    const addr = await metrics.listen();
    const cache = tinyCache('memory');
    metrics.watchCache(cache);
    const orders = metrics.counter({ name: 'orders', help: 'Orders placed', labelNames: ['kind'] });
    app = createServer(
      metrics.instrument(
        (req, res) => {
          const id = req.url?.split('/')[2] ?? '';
          if (cache.get(id) === undefined) cache.set(id, 'user');
          if (req.method === 'POST') orders.inc({ kind: 'book' });
          res.writeHead(200).end(id);
        },
        { route: '/users/:id' },
      ),
    );
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    prom = await startPrometheus({
      scrapeTargets: [`127.0.0.1:${addr!.port}`],
      features: ['exemplar-storage'],
    });
  });

  after(async () => {
    await prom?.stop();
    await new Promise((r) => (app ? app.close(r) : r(undefined)));
    await metrics?.close();
  });

  it('queries the request count and latency histogram, a business counter, the cache hit ratio and exemplars', async () => {
    // Ids 1 and 2 miss once each, then hit.
    for (const id of ['1', '2', '1', '2', '1', '2', '1', '2'])
      await (await fetch(`${appUrl}/users/${id}`)).text();
    for (let i = 0; i < 3; i++) await (await fetch(`${appUrl}/users/7`, { method: 'POST' })).text();
    await (
      await fetch(`${appUrl}/users/1`, { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } })
    ).text();
    // 8 + 3 + 1 = 12 requests; cache: 12 reads, ids 1, 2, 7 missed once → 9 hits.

    const up = await prom.waitForSeries('up{job="hyperion"}', (s) => s[0]?.value === 1);
    assert.equal(up.length, 1);

    // The request count is the latency histogram's _count.
    const reqs = await prom.waitForSeries(
      'sum by (http_request_method, http_route, http_response_status_code, url_scheme) (hyperion_http_server_request_duration_seconds_count{service="spec"})',
      (s) => s.reduce((a, x) => a + x.value, 0) === 12,
    );
    assert.deepEqual(
      reqs
        .map((s) => [
          s.metric.http_request_method,
          s.metric.http_route,
          s.metric.http_response_status_code,
          s.metric.url_scheme,
          s.value,
        ])
        .sort(),
      [
        ['GET', '/users/:id', '200', 'http', 9],
        ['POST', '/users/:id', '200', 'http', 3],
      ],
    );

    const buckets = await prom.query(
      'hyperion_http_server_request_duration_seconds_bucket{http_request_method="GET"}',
    );
    assert.equal(buckets.length, 15, "the conventions' 14 buckets + +Inf");
    assert.equal(buckets.find((b) => b.metric.le === '+Inf')?.value, 9);
    const quantile = await prom.query(
      'histogram_quantile(0.5, sum by (le) (hyperion_http_server_request_duration_seconds_bucket))',
    );
    assert.ok(quantile[0] && quantile[0].value > 0 && quantile[0].value <= 10);

    const orders = await prom.waitForSeries('hyperion_orders_total{kind="book"}', (s) => s[0]?.value === 3);
    assert.equal(orders[0]!.metric.service, 'spec');

    const ratio = await prom.waitForSeries(
      'sum(hyperion_cache_requests_total{result="hit"}) / sum(hyperion_cache_requests_total)',
      (s) => s.length === 1 && Math.abs(s[0]!.value - 0.75) < 1e-9,
    );
    assert.equal(ratio.length, 1);
    // The ratio since start comes from the counters (above); there is no ratio gauge.
    assert.deepEqual(await prom.query('{__name__=~".*cache_hit_rate"}'), [], 'no ratio gauge');

    const runtime = await prom.query('process_cpu_user_seconds_total{job="hyperion"}');
    assert.equal(runtime.length, 1, 'runtime metrics scraped');

    // Prometheus scrapes in OpenMetrics, so the sampled request's trace id arrives as an exemplar.
    const now = Date.now() / 1000;
    const exemplars = (await prom.api(
      `/api/v1/query_exemplars?query=${encodeURIComponent('hyperion_http_server_request_duration_seconds_bucket')}&start=${now - 600}&end=${now + 60}`,
    )) as { exemplars: { labels: Record<string, string> }[] }[];
    const traceIds = exemplars.flatMap((e) => e.exemplars.map((x) => x.labels.trace_id));
    assert.deepEqual(traceIds, [TRACE]);
  });
});
