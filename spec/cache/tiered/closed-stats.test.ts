/**
 * `stats().trackingConfirmed` (and the `cache_tracking_confirmed` gauge read from it) of a closed
 * tiered cache. It is documented as 1 while L1 is in use; once `close()` has closed L1 every call
 * rejects with `closed`, so it is 0 — as a cache with tracking already said (its tracker
 * stopped). Before, a closed cache with a bus, or with neither bus nor tracking, said 1 for good.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache, watchTieredCoherence } from '../../../lib/cache/tiered/index.js';
import { createMetrics } from '../../../lib/metrics/prometheus/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

it('a closed tiered cache without bus or tracking reports trackingConfirmed 0', async () => {
  const cache = createTieredCache({
    l1: createMemoryCache({ maxCost: 1 << 16 }),
    l2: createMemoryCache({ maxCost: 1 << 16 }),
  });
  await cache.ready;
  assert.equal(cache.stats().trackingConfirmed, 1, 'L1 in use while open');
  await cache.close();
  assert.equal(cache.stats().trackingConfirmed, 0, 'L1 closed with the cache');
});

it('close() closes both levels (README: app.close() closes bus, L2, L1)', async () => {
  // Mutation pass: a close() that left L1 open survived every test.
  const l1 = createMemoryCache({ maxCost: 1 << 16 });
  const l2 = createMemoryCache({ maxCost: 1 << 16 });
  const cache = createTieredCache({ l1, l2 });
  await cache.set('k', Buffer.from('v'));
  await cache.close();
  for (const level of [l1, l2])
    await assert.rejects(
      async () => level.get('k'),
      (e: { code?: string }) => e.code === 'closed',
    );
});

describeWithServers('a closed tiered cache with a Redis bus', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  it('reports trackingConfirmed 0, and cache_tracking_confirmed says so', async () => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'closed-stats:' });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      bus: createRedisInvalidationBus({ client: l2.client, channel: 'closed-stats:inv' }),
    });
    const metrics = createMetrics();
    try {
      await cache.ready;
      watchTieredCoherence(metrics, cache);
      const gauge = async () =>
        (await metrics.render()).body.split('\n').find((l) => l.startsWith('cache_tracking_confirmed{'));
      assert.equal(cache.stats().trackingConfirmed, 1, 'subscribed: L1 in use');
      assert.equal(await gauge(), 'cache_tracking_confirmed{cache="tiered"} 1');
      await cache.close();
      assert.equal(cache.stats().trackingConfirmed, 0, 'closed: L1 no longer in use');
      assert.equal(await gauge(), 'cache_tracking_confirmed{cache="tiered"} 0');
    } finally {
      await cache.close();
      await metrics.close();
    }
  });
});
