/**
 * A large `getOrSetMany` stores its loaded values in L2 a slice at a time, with a turn of the
 * event loop between slices, as the Redis cache's own `setMany` sends its chunks. Every store was
 * issued in one synchronous loop: a batch of 100,000 keys on a loopback Redis blocked the event
 * loop for ~4 s (every other request of the process waited), and the call took ~6 s at an
 * `l2Timeout` of 2 s. Seen from outside: a callback queued with `setImmediate` while the batch
 * loads runs before most of its stores were issued; and every key still lands in Redis.
 *
 * A key written or deleted while the slices go out is fenced as during the load: the store of a
 * key in a later slice was checked only when the batch was built, so a `delete` made at such a
 * turn was sent first and the later `ifAbsent` store brought the loaded value back, for good,
 * after the delete had resolved.
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

  it('a key deleted while the slices go out is not stored after the delete (its store is fenced)', async () => {
    const n = 3_000; // three slices
    const keys = Array.from({ length: n }, (_, i) => `fenced${i}`);
    const victim = keys[n - 1]!; // in the last slice
    const other = keys[n - 2]!;
    let deleted: Promise<boolean> | undefined;
    const values = await cache.getOrSetMany(keys, (ks) => {
      // At the loop's next turn, while the first slice of stores is out: a plain delete.
      setImmediate(() => {
        deleted = cache.delete(victim);
      });
      return ks.map((k) => Buffer.from(`v-${k}`));
    });
    assert.equal(Buffer.from(values[n - 1]!).toString(), `v-${victim}`, 'the caller gets the loaded value');
    assert.ok(deleted !== undefined);
    await deleted;
    assert.equal(await l2.get(victim), undefined, 'the delete is not overtaken by the batch store');
    assert.equal(await cache.get(victim), undefined);
    assert.notEqual(await l2.get(other), undefined, 'the other keys of the slice are stored');
  });
});
