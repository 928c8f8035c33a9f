/**
 * The help text of `cache_l1_clears_total` names every cause `l1Clears` counts. Another
 * instance's `clear()`, arriving on the bus, empties L1 and is counted (the README lists it as
 * bus "all"), but the help text listed only tracking, flush and bus reconnect: a dashboard showed
 * L1 clears with none of the causes it named.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache, watchTieredCoherence } from '../../../lib/cache/tiered/index.js';
import { createMetrics } from '../../../lib/metrics/prometheus/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('watchTieredCoherence: what cache_l1_clears_total says it counts', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  const tiered = () => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'help:' });
    return createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      bus: createRedisInvalidationBus({ client: l2.client, channel: 'help:inv' }),
    });
  };

  it("another instance's clear() is counted and named in the help text", async () => {
    const metrics = createMetrics();
    const watched = tiered();
    const other = tiered();
    try {
      await Promise.all([watched.ready, other.ready]);
      watchTieredCoherence(metrics, watched);
      await other.clear();
      await waitFor(() => watched.stats().l1Clears === 1, { what: 'the clear on the bus' });
      const lines = (await metrics.render()).body.split('\n');
      assert.ok(lines.includes('cache_l1_clears_total{cache="tiered"} 1'), lines.join('\n'));
      const help = lines.find((l) => l.startsWith('# HELP cache_l1_clears_total '));
      assert.match(String(help), /another instance's clear\(\)/);
    } finally {
      await other.close();
      await watched.close();
      await metrics.close();
    }
  });
});
