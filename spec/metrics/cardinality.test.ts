import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as client from 'prom-client';
import type { LogFields } from '../../lib/core/contracts.js';
import { createMetricsWith } from '../../lib/metrics/prometheus/create.js';
import { createMetrics, type MetricsOptions } from '../../lib/metrics/prometheus/index.js';
import { OVERFLOW_VALUE } from '../../lib/metrics/prometheus/series.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function recordingLogger() {
  const warnings: { message: string; fields?: LogFields }[] = [];
  return {
    warnings,
    logger: { warn: (message: string, fields?: LogFields) => warnings.push({ message, fields }) },
  };
}

describe('prometheus metrics: cardinality cap', () => {
  it('folds 1,000,000 distinct label values into one overflow series; memory stays bounded', async () => {
    const { warnings, logger } = recordingLogger();
    const m = createMetrics({ maxSeriesPerMetric: 1000, logger });
    const c = m.counter({ name: 'user_requests', help: 'per user (a bad idea)', labelNames: ['user'] });
    const h = m.histogram({ name: 'user_latency_seconds', help: 'x', labelNames: ['user'] });
    for (let i = 0; i < 2000; i++) {
      c.inc({ user: `u${i}` });
      h.observe({ user: `u${i}` }, 0.01);
    }
    assert.equal(m.seriesCount('user_requests_total'), 1001, '1000 series + the overflow series');
    const before = heapAfterGc();
    for (let i = 2000; i < 1_000_000; i++) {
      c.inc({ user: `u${i}` });
      h.observe({ user: `u${i}` }, 0.01);
    }
    const grown = heapAfterGc() - before;
    assert.equal(m.seriesCount('user_requests_total'), 1001);
    assert.equal(m.seriesCount('user_latency_seconds'), 1001);
    // Without the cap the counter alone would keep ~1M entries (well over 100 MB).
    assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB`);

    const body = (await m.render()).body;
    assert.ok(
      body.includes(`user_requests_total{user="${OVERFLOW_VALUE}"} 999000`),
      'overflow series counts every drop',
    );
    assert.ok(body.includes('user_requests_total{user="u999"} 1'));
    assert.ok(!body.includes('user="u1000"'));
    assert.ok(body.includes('metrics_series_dropped_total{metric="user_requests_total"} 999000'));
    assert.ok(body.includes('metrics_series_dropped_total{metric="user_latency_seconds"} 999000'));
    assert.equal(warnings.length, 2, 'one warning per metric');
    assert.deepEqual(
      warnings.map((w) => w.fields?.metric),
      ['user_requests_total', 'user_latency_seconds'],
    );
    assert.match(warnings[0]!.message, /cap of 1000/);
  });

  it('a series removed after the cap was reached frees its place (the overflow series took none)', async () => {
    const m = createMetrics({ maxSeriesPerMetric: 2, logger: { warn() {} } });
    const c = m.counter({ name: 'jobs', help: 'x', labelNames: ['k'] });
    c.inc({ k: 'a' });
    c.inc({ k: 'b' });
    c.inc({ k: 'c' }); // folded: the overflow series exists
    // Other code removes a series through prom-client (metrics.registry): the cap recounts its
    // series every 1024 folds while full. Before, the recount included the overflow series, so
    // the place stayed taken for good.
    (m.registry.getSingleMetric('jobs_total') as client.Counter).remove({ k: 'a' });
    for (let i = 0; i < 1100; i++) c.inc({ k: `n${i}` });
    const body = (await m.render()).body;
    assert.doesNotMatch(body, /k="a"/);
    assert.equal(body.match(/^jobs_total\{k="n\d+"\} 1$/gm)?.length, 1, body);
    assert.equal(m.seriesCount('jobs_total'), 3, 'b, the new series and the overflow series');
  });

  it('a watched cache beyond the cap is left out, not folded: no drop counted per scrape, one warning', async () => {
    const { logger, warnings } = recordingLogger();
    const m = createMetrics({ maxSeriesPerMetric: 2, logger });
    const stats = (hits: number, misses: number) => () => ({ hits, misses, hitRatio: 0 });
    const unwatchA = m.watchCache({ name: 'a', stats: stats(1, 2) });
    m.watchCache({ name: 'b', stats: stats(30, 40) });
    let body = '';
    for (let i = 0; i < 3; i++) body = (await m.render()).body;
    // Cache a holds both places of cache_requests_total. Before, b's totals were written into
    // the overflow series at every scrape (cache_requests_total{…="__overflow__"} 40, a counter
    // jumping between caches' totals) and counted as 2 drops per scrape (6 after 3 scrapes).
    assert.match(body, /^cache_requests_total\{cache="a",result="hit"\} 1$/m);
    assert.doesNotMatch(body, /cache="b"|__overflow__/);
    assert.doesNotMatch(body, /metrics_series_dropped_total\{metric="cache_requests_total"\}/);
    assert.deepEqual(
      warnings.map((w) => w.message).filter((w) => /cardinality cap/.test(w)),
      [
        'cache "b": some of its series are beyond the metric\'s cardinality cap (maxSeriesPerMetric) and are not exposed (warned once per watch)',
      ],
    );
    // Unwatching a frees both places: b is exposed at the next scrape.
    unwatchA();
    body = (await m.render()).body;
    assert.doesNotMatch(body, /cache="a"/);
    assert.match(body, /^cache_requests_total\{cache="b",result="hit"\} 30$/m);
    assert.match(body, /^cache_requests_total\{cache="b",result="miss"\} 40$/m);
  });

  it('gauges read at scrape time (db connections, the legacy hit ratio) are left out beyond the cap, not folded', async () => {
    const m = createMetrics({ maxSeriesPerMetric: 1, logger: { warn() {} } });
    m.watchDbConnections(() => ({ used: 3, idle: 2 }));
    const legacy = createMetrics({ maxSeriesPerMetric: 1, naming: 'legacy', logger: { warn() {} } });
    legacy.watchCache({ name: 'a', stats: () => ({ hits: 1, misses: 1, hitRatio: 0.5 }) });
    legacy.watchCache({ name: 'b', stats: () => ({ hits: 9, misses: 1, hitRatio: 0.9 }) });
    let body = '';
    let legacyBody = '';
    for (let i = 0; i < 3; i++) {
      body = (await m.render()).body;
      legacyBody = (await legacy.render()).body;
    }
    // Before: the second state (and cache b's ratio) overwrote the overflow series at every scrape
    // and counted one drop per scrape.
    assert.match(body, /^db_client_connection_count\{db_client_connection_state="used"\} 3$/m);
    assert.doesNotMatch(body, /__overflow__|metrics_series_dropped_total\{/);
    assert.match(legacyBody, /^cache_hit_rate\{cache_type="a"\} 0.5$/m);
    assert.doesNotMatch(legacyBody, /__overflow__|metrics_series_dropped_total\{/);
  });

  it('existing series keep counting after the cap; a per-metric maxSeries overrides the default', async () => {
    const { logger } = recordingLogger();
    const m = createMetrics({ maxSeriesPerMetric: 2, logger });
    const g = m.gauge({ name: 'g', help: 'x', labelNames: ['k'] });
    g.set({ k: 'a' }, 1);
    g.set({ k: 'b' }, 2);
    g.set({ k: 'c' }, 3);
    g.inc({ k: 'a' });
    const body = (await m.render()).body;
    assert.ok(body.includes('g{k="a"} 2'));
    assert.ok(body.includes(`g{k="${OVERFLOW_VALUE}"} 3`));
    const wide = m.counter({ name: 'wide', help: 'x', labelNames: ['k'], maxSeries: 50 });
    for (let i = 0; i < 60; i++) wide.inc({ k: i });
    assert.equal(m.seriesCount('wide_total'), 51);
  });

  for (const [path, make] of [
    ['fast path', (o: MetricsOptions) => createMetricsWith(o, {})],
    [
      'public-API fallback',
      (o: MetricsOptions) => createMetricsWith(o, { probe: { ok: false, reason: 'forced' } }),
    ],
  ] as const)
    it(`a label value equal to the overflow marker is refused, before and after the cap (${path})`, async () => {
      const m = make({ maxSeriesPerMetric: 2, logger: { warn() {} } });
      const c = m.counter({ name: 'hits', help: 'x', labelNames: ['user', 'zone'] });
      const marker = { user: OVERFLOW_VALUE, zone: OVERFLOW_VALUE };
      // Under the cap: before, it became a user series that later drops were counted into.
      assert.throws(() => c.inc(marker, 5), { name: 'MetricsError', code: 'invalid_label' });
      c.inc({ user: 'a' });
      c.inc({ user: 'b' });
      c.inc({ user: 'c' }); // folded: the first drop
      // Over the cap: before, these 5 + 7 landed in the overflow series, and only the second
      // was counted as dropped (the overflow series said 13, the dropped counter 2).
      assert.throws(() => c.inc(marker, 5), { code: 'invalid_label' });
      assert.throws(() => c.inc({ user: OVERFLOW_VALUE }, 7), { code: 'invalid_label' });
      const body = (await m.render()).body;
      assert.match(body, /^hits_total\{user="__overflow__",zone="__overflow__"\} 1$/m);
      assert.match(body, /^metrics_series_dropped_total\{metric="hits_total"\} 1$/m);
      assert.equal(body.match(/__overflow__/g)?.length, 2, 'one series holds the marker');
    });

  it('instrument() records a route equal to the marker as "unmatched"; watchCache refuses it as a cache name', async () => {
    const { logger, warnings } = recordingLogger();
    const m = createMetrics({ logger });
    const server = createServer(m.instrument((_req, res) => res.end('ok'), { route: OVERFLOW_VALUE }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
      assert.equal(await res.text(), 'ok');
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    const body = (await m.render()).body;
    assert.match(
      body,
      /^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="unmatched",http_response_status_code="200",url_scheme="http"\} 1$/m,
    );
    assert.ok(!body.includes(OVERFLOW_VALUE));
    assert.match(warnings[0]?.message ?? '', /reserved/);
    assert.throws(
      () => m.watchCache({ name: OVERFLOW_VALUE, stats: () => ({ hits: 0, misses: 0, hitRatio: 0 }) }),
      {
        code: 'invalid_label',
      },
    );
  });

  it('a per-metric maxSeries has the range of maxSeriesPerMetric (1 to 1,000,000)', async () => {
    const m = createMetrics({ logger: { warn() {} } });
    // Before: 2^53 - 1 was accepted, and 1,500,000 distinct values kept 1,500,000 series (~380 MiB).
    for (const bad of [1_000_001, Number.MAX_SAFE_INTEGER, 0, 1.5])
      assert.throws(
        () => m.counter({ name: `c${String(bad).replace('.', '_')}`, help: 'x', maxSeries: bad }),
        {
          name: 'MetricsError',
          code: 'invalid_option',
          message: /maxSeries of "c.*" must be an integer from 1 to 1000000/,
        },
      );
    const wide = m.counter({ name: 'wide', help: 'x', labelNames: ['k'], maxSeries: 1_000_000 });
    wide.inc({ k: 'a' });
    assert.equal(m.seriesCount('wide_total'), 1);
  });

  it('removed series free their slot (watchCache unwatch)', async () => {
    const { logger, warnings } = recordingLogger();
    const m = createMetrics({ maxSeriesPerMetric: 4, logger });
    const stats = { hits: 1, misses: 1, hitRatio: 0.5 };
    for (let round = 0; round < 5; round++) {
      const off = m.watchCache({ name: `c${round}`, stats: () => stats });
      await m.render();
      off();
    }
    assert.equal(warnings.length, 0);
    assert.equal(m.seriesCount('cache_requests_total'), 0);
  });
});
