/**
 * `jsonCache` over a real Redis: a stored value that is not JSON is a miss (`onInvalid: 'miss'`)
 * even when Redis refuses the delete that cleans it up. Found by an outside-in audit: with
 * `min-replicas-to-write` unmet (NOREPLICAS; OOM under `noeviction` is the same), reads work but
 * the read of a bad value rejected with the delete's error.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { jsonCache } from '../../../lib/core/typed.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('jsonCache on Redis: an invalid value is a miss', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;

  before(async () => {
    redis = await startRedis({});
    cache = createRedisCache({ addresses: [`${redis.host}:${redis.port}`] });
  });
  after(async () => {
    await cache?.close();
    await redis?.stop();
  });

  it('while Redis refuses writes (NOREPLICAS), the read reports a miss and the value stays', async () => {
    await redisCommand(redis.port, ['SET', 'bad', '{not json']);
    await redisCommand(redis.port, ['CONFIG', 'SET', 'min-replicas-to-write', '1']);
    try {
      const view = jsonCache<unknown>(cache);
      assert.equal(await view.get('bad'), undefined);
      assert.equal(await redisCommand(redis.port, ['GET', 'bad']), '{not json', 'the delete was refused');
    } finally {
      await redisCommand(redis.port, ['CONFIG', 'SET', 'min-replicas-to-write', '0']);
    }
    // Once Redis takes writes again, the next read deletes it.
    assert.equal(await jsonCache<unknown>(cache).get('bad'), undefined);
    assert.equal(await redisCommand(redis.port, ['EXISTS', 'bad']), 0);
  });
});

describeWithServers('jsonCache on Redis: getOrSet reads once and fails open', skipRedis(), () => {
  // The view read with GET first, then called getOrSet: a miss cost two round trips and counted
  // twice in stats(), and with Redis down the GET rejected (unavailable) where the cache's
  // getOrSet fails open to the loader.
  it('one miss, one hit per call, and the loader answers while Redis is down', async () => {
    const redis = await startRedis({});
    const cache = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], commandTimeout: 300 });
    try {
      const view = jsonCache<number>(cache);
      assert.equal(await view.getOrSet('k', () => 1), 1);
      assert.equal(await view.getOrSet('k', () => 2), 1);
      assert.deepEqual({ hits: cache.stats().hits, misses: cache.stats().misses }, { hits: 1, misses: 1 });
      await redis.stop();
      assert.equal(await view.getOrSet('other', () => 3), 3);
      const s = cache.stats();
      assert.deepEqual(
        { hits: s.hits, misses: s.misses, errors: s.errors },
        { hits: 1, misses: 2, errors: 1 },
      );
    } finally {
      await cache.close();
      await redis.stop();
    }
  });
});
