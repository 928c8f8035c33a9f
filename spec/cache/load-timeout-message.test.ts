/**
 * A getOrSet whose loader outlasts `loadTimeout` rejects with `CacheError('timeout')` naming the
 * key, in every cache. The tiered cache's said `the loader of "k" did not settle within 50 ms`;
 * the memory and Redis caches' said only `the loader did not settle within 50 ms`, so a log of it
 * did not tell which of the keys loading at the time had timed out. Found from outside, one
 * loader per cache that never settles.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import { type Cache, CacheError } from '../../lib/core/index.js';
import { describeWithServers } from '../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';

describeWithServers('loadTimeout: the timeout names the key', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('memory, Redis and tiered caches name the key whose loader did not settle', async () => {
    const address = `${redis.host}:${redis.port}`;
    const caches: [string, Cache][] = [
      ['memory', createMemoryCache({ maxCost: 1000, loadTimeout: 50 })],
      ['redis', createRedisCache({ addresses: [address], loadTimeout: 50 })],
      [
        'tiered',
        createTieredCache({
          l1: createMemoryCache({ maxCost: 1000 }),
          l2: createRedisCache({ addresses: [address] }),
          loadTimeout: 50,
        }),
      ],
    ];
    try {
      for (const [name, cache] of caches) {
        const err = await cache
          .getOrSet('orders:42', () => new Promise<Uint8Array>(() => {}), 1000)
          .then(
            () => assert.fail(`${name}: the hung load must time out`),
            (e: unknown) => e,
          );
        assert.ok(err instanceof CacheError, `${name}: ${String(err)}`);
        assert.equal(err.code, 'timeout', name);
        assert.match(err.message, /^the loader of "orders:42" did not settle within 50 ms$/, name);
      }
    } finally {
      for (const [, cache] of caches) await cache.close?.();
    }
  });
});
