/**
 * The stores of a large `getOrSetMany` that fail while later slices are still being issued are no
 * unhandled rejections. Found from outside: `close()` called while a 20,000-key batch issued its
 * stores (20 slices, a turn of the event loop between them) — every store of the slices after the
 * close rejected with `closed` before the batch looked at them, and the process saw one
 * `unhandledRejection` per store (thousands; without a handler, Node ends the process at the
 * first), then as many "rejection was handled asynchronously" warnings. An L2 failing mid-batch
 * (Redis gone) did the same.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('tiered cache: a batch store failing between slices', skipRedis(), () => {
  let redis: RedisStandalone;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  before(async () => {
    redis = await startRedis();
    process.on('unhandledRejection', onUnhandled);
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await redis?.stop();
  });

  it('closed while the slices of a getOrSetMany go out: the call resolves, no unhandled rejection', async () => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'bsc:' });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 24 }),
      l2,
      ttl: 600_000,
      l2Timeout: 60_000, // room for every slice: the stores fail for the close only
    });
    await cache.ready;
    const n = 5_000; // five slices
    const keys = Array.from({ length: n }, (_, i) => `k${i}`);
    let closing: Promise<void> | undefined;
    const values = await cache.getOrSetMany(keys, (ks) => {
      // At the loop's next turn, while the first slice of stores is out.
      setImmediate(() => {
        closing = cache.close();
      });
      return ks.map((k) => Buffer.from(`v-${k}`));
    });
    assert.equal(values.length, n);
    assert.equal(Buffer.from(values[n - 1]!).toString(), `v-k${n - 1}`, 'the caller gets the loaded values');
    assert.ok(closing !== undefined, 'the cache was closed during the call');
    await closing;
    // A rejection nobody handled is reported once the microtasks of its turn have run.
    await new Promise((r) => setImmediate(r));
    assert.equal(
      unhandled.length,
      0,
      `stores failing between slices were unhandled rejections: ${unhandled.length}, the first ${String(unhandled[0])}`,
    );
  });
});
