/**
 * A tiered cache without a `ttl` of its own over an L2 that has a `defaultTtl` (`default_ttl` of
 * `l2:` in a config file). The tiered cache wrote such entries without a TTL: L2 applied its own
 * default and dropped them, while the L1 copies — of the writer, and of every instance that read
 * the entry — had no deadline and were served for good. The tiered cache now takes the L2's
 * default as its own, so the L1 copies expire with the L2 entry.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { manualClock } from '../../harness/clock.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

it('over a memory L2 with a defaultTtl, set, setMany and getOrSet expire in L1 with the L2 entry', async () => {
  const clock = manualClock();
  const l2 = createMemoryCache({ maxCost: 1 << 16, defaultTtl: 1000, now: clock.now });
  assert.equal(l2.defaultTtl, 1000, 'the memory cache reports its defaultTtl');
  const cache = createTieredCache({
    l1: createMemoryCache({ maxCost: 1 << 16, now: clock.now }),
    l2,
    now: clock.now,
  });
  try {
    await cache.set('a', enc('1'));
    await cache.setMany([{ key: 'b', value: enc('2') }]);
    assert.equal(dec(await cache.getOrSet('c', () => enc('3'))), '3');
    assert.deepEqual((await cache.getMany(['a', 'b', 'c'])).map(dec), ['1', '2', '3']);
    clock.advance(1001);
    assert.deepEqual((await l2.getMany(['a', 'b', 'c'])).map(dec), [undefined, undefined, undefined]);
    assert.deepEqual(
      (await cache.getMany(['a', 'b', 'c'])).map(dec),
      [undefined, undefined, undefined],
      'L1 copies expired with L2',
    );
    assert.equal(await cache.has('a'), false);
  } finally {
    await cache.close();
  }
});

it('a ttl given to the tiered cache, or per call, still wins over the L2 default', async () => {
  const clock = manualClock();
  const l2 = createMemoryCache({ maxCost: 1 << 16, defaultTtl: 1000, now: clock.now });
  const cache = createTieredCache({
    l1: createMemoryCache({ maxCost: 1 << 16, now: clock.now }),
    l2,
    ttl: 5000,
    now: clock.now,
  });
  try {
    await cache.set('a', enc('1'));
    await cache.set('b', enc('2'), 500);
    clock.advance(1001);
    assert.equal(dec(await cache.get('a')), '1', "the tiered cache's ttl, not L2's default");
    assert.equal(dec(await l2.get('a')) === undefined, false, 'L2 holds it as long');
    assert.equal(await cache.get('b'), undefined, 'the per-call ttl');
  } finally {
    await cache.close();
  }
});

describeWithServers('tiered over a Redis L2 with default_ttl', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  it("neither the writer's L1 copy nor a reader's outlives the L2 entry", async () => {
    const l2 = (name: string) =>
      createRedisCache({
        name,
        addresses: [`127.0.0.1:${redis.port}`],
        keyPrefix: 'level-default-ttl:',
        defaultTtl: 300,
        commandTimeout: 2000,
      });
    const writerL2 = l2('writer');
    assert.equal(writerL2.defaultTtl, 300, 'the Redis cache reports its defaultTtl');
    const writer = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: writerL2,
      l2Timeout: 2000,
    });
    const reader = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2('reader'),
      l2Timeout: 2000,
    });
    try {
      await writer.set('k', enc('v'));
      assert.equal(dec(await reader.get('k')), 'v', 'the reader fills its L1 from L2');
      // Redis drops the key at its default TTL (server clock); no fixed sleep.
      await waitFor(async () => (await writerL2.get('k')) === undefined, {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'Redis to expire the key',
      });
      assert.equal(await writer.get('k'), undefined, "the writer's L1 copy expired with L2");
      assert.equal(await reader.get('k'), undefined, "the reader's L1 copy expired with L2");
    } finally {
      await writer.close();
      await reader.close();
    }
  });
});
