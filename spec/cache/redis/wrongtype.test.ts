/**
 * A key another program made a hash (HSET under the cache's prefix): Redis answers GET with
 * WRONGTYPE. That key's value is unreadable to the cache, but nothing is down: it used to be code
 * `backend`, which a tiered cache counts as an outage, so five reads of that one key opened the
 * breaker and L2 was skipped for every key. It is now `invalid_value`, naming the cause; `getMany`
 * (MGET) reads such a key as a miss, and so does a tiered cache (all its reads); `has` is false.
 *
 * `getManyWithTtl` (GET + PTTL per key, the tiered cache's reads under tracking) reads only that
 * key as a miss: its one WRONGTYPE GET used to reject the whole batch (`invalid_value`, counted in
 * `errors`), so a tiered cache with tracking read every key of such a batch as a miss.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
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

  // has() asked EXISTS and said true for that key, while get rejected it and getMany, a tiered
  // cache's has and every other read said there is no value: a caller checking has() then get()
  // met an error it had just been told would not come.
  it('redis cache: has is false for that key, as every read of it is a miss or an error', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'wt5:' });
    try {
      for (const cmd of [
        ['HSET', 'wt5:h', 'f', 'x'],
        ['RPUSH', 'wt5:l', 'x'],
        ['SADD', 'wt5:s', 'x'],
      ])
        await redisCommand(redis.port, cmd);
      await cache.set('v', Buffer.from('v'));
      await cache.set('empty', new Uint8Array(0));
      assert.deepEqual(await Promise.all(['h', 'l', 's', 'v', 'empty', 'none'].map((k) => cache.has(k))), [
        false,
        false,
        false,
        true,
        true,
        false,
      ]);
      assert.equal(cache.stats().errors, 0);
      await cache.delete('v');
      assert.equal(await cache.has('v'), false);
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

  it('redis cache: getManyWithTtl reads that key alone as a miss, with no error counted', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'wt3:' });
    try {
      await redisCommand(redis.port, ['HSET', 'wt3:h', 'f', 'x']);
      await cache.set('a', Buffer.from('A'));
      await cache.set('b', Buffer.from('B'), 60_000);
      const hits = await cache.getManyWithTtl(['a', 'h', 'b', 'none']);
      assert.deepEqual(
        hits.map((h) => (h === undefined ? undefined : Buffer.from(h.value).toString())),
        ['A', undefined, 'B', undefined],
      );
      assert.equal(hits[0]?.ttl, undefined);
      assert.ok(hits[2]?.ttl !== undefined && hits[2].ttl > 0 && hits[2].ttl <= 60_000);
      const stats = cache.stats();
      assert.equal(stats.errors, 0);
      assert.equal(stats.hits, 2);
      assert.equal(stats.misses, 2);
      // A plain get of that key still says why it cannot be read.
      await assert.rejects(cache.get('h'), wrongType);
    } finally {
      await cache.close();
    }
  });

  it('tiered cache with tracking: a batch with that key serves the other keys from L2', async () => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'wt4:' });
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2 }),
      breaker: { failures: 3, cooldown: 60_000 },
    });
    try {
      await tiered.ready;
      await redisCommand(redis.port, ['HSET', 'wt4:h', 'f', 'x']);
      await l2.set('a', Buffer.from('A'));
      await l2.set('b', Buffer.from('B'));
      const got = await tiered.getMany(['a', 'h', 'b']);
      assert.deepEqual(
        got.map((b) => (b === undefined ? undefined : Buffer.from(b).toString())),
        ['A', undefined, 'B'],
      );
      assert.equal(tiered.stats().l2Hits, 2);
      assert.equal(tiered.stats().errors, 0);
      assert.equal(tiered.stats().l2Errors, 0);
      assert.equal(l2.stats().errors, 0);
      assert.equal(tiered.breakerState(), 'closed');
    } finally {
      await tiered.close();
    }
  });
});
