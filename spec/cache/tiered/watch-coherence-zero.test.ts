/**
 * The counters `watchTieredCoherence` registers exist from the watch on, at 0, as the span export
 * counters do. They used to be born at their first event: `cache_invalidations_total` appeared
 * with the first bus message already counted (1) and `cache_l1_clears_total` with the first L1
 * clear, so Prometheus had no earlier sample and `increase()` / `rate()` read that first event as
 * 0 — an alert on L1 clears or invalidations missed it, and a dashboard showed nothing happening.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache, watchTieredCoherence } from '../../../lib/cache/tiered/index.js';
import { createMetrics } from '../../../lib/metrics/prometheus/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { skipPrometheus, startPrometheus } from '../../harness/prometheus.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers(
  'watchTieredCoherence: counters start at 0, so the first event shows in increase()',
  skipRedis() || skipPrometheus(),
  () => {
    let redis: RedisStandalone;
    before(async () => {
      redis = await startRedis();
    });
    after(() => redis?.stop());

    const tiered = () => {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'zero:' });
      return createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        bus: createRedisInvalidationBus({ client: l2.client, channel: 'zero:inv' }),
      });
    };

    it('every coherence counter series is exposed at 0 once watched', async () => {
      const metrics = createMetrics();
      const cache = tiered();
      try {
        await cache.ready;
        watchTieredCoherence(metrics, cache, { name: 'users' });
        const body = (await metrics.render()).body;
        for (const series of [
          'cache_invalidations_total{cache="users",source="bus"} 0',
          'cache_invalidations_total{cache="users",source="tracking"} 0',
          'cache_l1_clears_total{cache="users"} 0',
          'cache_tracking_slot_moves_total{cache="users"} 0',
        ])
          assert.ok(body.split('\n').includes(series), `${series} in:\n${body}`);
      } finally {
        await cache.close();
        await metrics.close();
      }
    });

    it("a real Prometheus's increase() sees the first bus invalidation and the first L1 clear", async () => {
      const metrics = createMetrics({ port: 0 });
      const watched = tiered();
      const other = tiered();
      const addr = await metrics.listen();
      const prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${addr!.port}`] });
      try {
        await Promise.all([watched.ready, other.ready]);
        watchTieredCoherence(metrics, watched);
        // A scrape after the watch, before any event.
        await prom.waitForSeries('cache_tracking_confirmed{cache="tiered"}', (s) => s.length === 1);
        // Another instance deletes a key (one bus message) and clears (an "all" message: L1 emptied).
        await other.delete('k');
        await other.clear();
        await waitFor(() => watched.stats().invalidationsReceived >= 2 && watched.stats().l1Clears >= 1, {
          what: 'the invalidations of the other instance',
        });
        const [invalidations] = await prom.waitForSeries(
          'sum(increase(cache_invalidations_total{cache="tiered",source="bus"}[1m]))',
          (s) => s.length === 1 && s[0]!.value > 0,
          { timeoutMs: 20_000 },
        );
        assert.ok(invalidations!.value > 0);
        const [clears] = await prom.waitForSeries(
          'sum(increase(cache_l1_clears_total{cache="tiered"}[1m]))',
          (s) => s.length === 1 && s[0]!.value > 0,
          { timeoutMs: 20_000 },
        );
        assert.ok(clears!.value > 0);
      } finally {
        await prom.stop();
        await other.close();
        await watched.close();
        await metrics.close();
      }
    });
  },
);
