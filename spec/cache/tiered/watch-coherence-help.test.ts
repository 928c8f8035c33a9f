/**
 * The help text of `cache_l1_clears_total` names every cause `l1Clears` counts. Another
 * instance's `clear()`, arriving on the bus, empties L1 and is counted (the README lists it as
 * bus "all"), but the help text listed only tracking, flush and bus reconnect: a dashboard showed
 * L1 clears with none of the causes it named.
 * Likewise `cache_invalidations_total{source="bus"}` counts messages, and a write naming keys over
 * 1 MiB arrives in several parts, each counted; the help said one per write, however many keys.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache, watchTieredCoherence } from '../../../lib/cache/tiered/index.js';
import { createMetrics } from '../../../lib/metrics/prometheus/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('watchTieredCoherence: what the help texts say is counted', skipRedis(), () => {
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
  it('a deleteMany whose keys take over 1 MiB counts one per part, as the help text says', async () => {
    const metrics = createMetrics();
    const watched = tiered();
    const other = tiered();
    try {
      await Promise.all([watched.ready, other.ready]);
      watchTieredCoherence(metrics, watched);
      // 30,000 keys of ~50 bytes: about 1.5 MiB of keys, so two messages.
      const keys = Array.from({ length: 30_000 }, (_, i) => `key-${'x'.repeat(40)}-${i}`);
      await other.deleteMany(keys);
      await waitFor(() => watched.stats().invalidationsReceived === 2, { what: 'both parts' });
      const lines = (await metrics.render()).body.split('\n');
      assert.ok(lines.includes('cache_invalidations_total{cache="tiered",source="bus"} 2'), lines.join('\n'));
      const help = lines.find((l) => l.startsWith('# HELP cache_invalidations_total '));
      assert.match(String(help), /one per part of at most 1 MiB/);
    } finally {
      await other.close();
      await watched.close();
      await metrics.close();
    }
  });
});
