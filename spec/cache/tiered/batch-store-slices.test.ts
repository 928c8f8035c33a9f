/**
 * A large `getOrSetMany` stores its loaded values in L2 a slice at a time, with a turn of the
 * event loop between slices, as the Redis cache's own `setMany` sends its chunks. Every store was
 * issued in one synchronous loop: a batch of 100,000 keys on a loopback Redis blocked the event
 * loop for ~4 s (every other request of the process waited), and the call took ~6 s at an
 * `l2Timeout` of 2 s. Seen from outside: a callback queued with `setImmediate` while the batch
 * loads runs before most of its stores were issued; and every key still lands in Redis.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import type { Cache } from '../../../lib/core/contracts.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('tiered cache: a large getOrSetMany stores in slices', skipRedis(), () => {
  let redis: RedisStandalone;
  let l2: RedisCache;
  let cache: TieredCache;
  let issued = 0;
  before(async () => {
    redis = await startRedis();
    l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: 'bss:',
      commandTimeout: 30_000,
    });
    // L2 as the application gave it, each `set` counted as it is issued.
    const counted = new Proxy(l2, {
      get(target, prop) {
        if (prop === 'set')
          return (...args: Parameters<Cache['set']>) => {
            issued++;
            return target.set(...args);
          };
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 26 }),
      l2: counted,
      ttl: 600_000,
      l2Timeout: 60_000, // room for every store: this test is about how they are issued
    });
    await cache.ready;
  });
  after(async () => {
    await cache?.close().catch(() => {});
    await l2?.close().catch(() => {});
    await redis?.stop();
  });

  it('lets the event loop turn between slices of stores, and stores every key', async () => {
    const n = 20_000;
    const keys = Array.from({ length: n }, (_, i) => `k${i}`);
    let issuedAtTurn: number | undefined;
    const values = await cache.getOrSetMany(keys, (ks) => {
      // Runs at the next turn of the loop after the loader returned.
      setImmediate(() => {
        issuedAtTurn = issued;
      });
      return ks.map((k) => Buffer.from(`v-${k}`));
    });
    assert.equal(values.length, n);
    assert.equal(Buffer.from(values[n - 1]!).toString(), `v-k${n - 1}`);
    assert.ok(issuedAtTurn !== undefined);
    assert.ok(issuedAtTurn < n, `all ${n} stores were issued before the loop turned once`);
    assert.equal(issued, n);
    const inL2 = await l2.getMany(keys);
    assert.equal(inL2.filter((v) => v !== undefined).length, n);
    assert.equal(cache.stats().l2Errors, 0);
  });
});
