/**
 * A key another program made a hash (HSET under the cache's prefix): Redis answers GET with
 * WRONGTYPE. That key's value is unreadable to the cache, but nothing is down: it used to be code
 * `backend`, which a tiered cache counts as an outage, so five reads of that one key opened the
 * breaker and L2 was skipped for every key. It is now `invalid_value`, naming the cause; `getMany`
 * (MGET) reads such a key as a miss, and so does a tiered cache (all its reads).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const wrongType = (e: unknown) =>
  e instanceof CacheError && e.code === 'invalid_value' && /another Redis type/.test(e.message);

describeWithServers('a key of another Redis type', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  it('redis cache: get rejects invalid_value naming the cause; getMany reads it as a miss', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'wt1:' });
    try {
      await redisCommand(redis.port, ['HSET', 'wt1:h', 'f', 'x']);
      await cache.set('s', Buffer.from('v'));
      await assert.rejects(cache.get('h'), wrongType);
      const many = await cache.getMany(['h', 's']);
      assert.deepEqual(
        many.map((b) => (b === undefined ? undefined : Buffer.from(b).toString())),
        [undefined, 'v'],
      );
    } finally {
      await cache.close();
    }
  });

  it('tiered cache: reads of that key do not open the breaker for every key', async () => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'wt2:' });
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      breaker: { failures: 3, cooldown: 60_000 },
    });
    try {
      await redisCommand(redis.port, ['HSET', 'wt2:h', 'f', 'x']);
      // A miss (as MGET answers it), not an error for the caller, and no outage.
      for (let i = 0; i < 6; i++) assert.equal(await tiered.get('h'), undefined);
      assert.equal(await tiered.has('h'), false);
      assert.deepEqual(await tiered.getMany(['h']), [undefined]);
      assert.equal(Buffer.from(await tiered.getOrSet('h', async () => Buffer.from('L'))).toString(), 'L');
      assert.equal(tiered.breakerState(), 'closed');
      assert.equal(tiered.stats().errors, 0);
      // Another key written by someone else is still read from L2 (not skipped).
      await l2.set('other', Buffer.from('fresh'));
      assert.equal(Buffer.from((await tiered.get('other')) ?? []).toString(), 'fresh');
    } finally {
      await tiered.close();
    }
  });
});
