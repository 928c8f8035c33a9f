/**
 * The key prefix of a tracker built from the L2's client: `createRedisTracking({ client:
 * l2.client })`, written as the bus and the lease take that client. Its `keyPrefix` defaulted to
 * `''`, so over an L2 with `keyPrefix: 'app:'` every key Redis reported (`app:k`) was kept whole
 * and matched no L1 key (`k`): L1 served its copy after another client's write for the entry's
 * whole TTL, with tracking confirmed. It now defaults to the prefix of the cache that built the
 * client (as the lease's does), and a client shared by caches with different prefixes needs it.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('a tracker built from the L2 client', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis?.stop();
  });

  for (const mode of ['default', 'bcast'] as const) {
    it(`${mode}: strips the L2's key prefix, so another client's write drops the L1 copy`, async () => {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `tp-${mode}:` });
      closers.push(() => l2.close());
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        tracking: createRedisTracking({ client: l2.client, mode }),
        ttl: 60_000,
      });
      closers.push(() => cache.close());
      await cache.ready;
      await cache.set('k', Buffer.from('v1'));
      // Written here, so read from L2 once (tracked), then served from L1.
      await waitFor(async () => (await cache.getWithMeta('k'))?.source === 'l1', { what: 'k in L1' });

      // Another program writes the key.
      await l2.client.set(`tp-${mode}:k`, 'v2');
      await waitFor(async () => Buffer.from((await cache.get('k')) ?? []).toString() === 'v2', {
        what: 'the outside write read (the L1 copy dropped)',
        timeoutMs: 3000,
      });
      assert.ok(cache.stats().trackingInvalidations >= 1);
    });
  }

  it('refuses a client shared by caches with different key prefixes without keyPrefix', async () => {
    const a = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'tp-a:' });
    closers.push(() => a.close());
    const b = createRedisCache({ client: a.client, keyPrefix: 'tp-b:' });
    closers.push(() => b.close());
    assert.throws(
      () => createRedisTracking({ client: a.client }),
      (err) => err instanceof ConfigError && err.issues.some((i) => i.path === 'keyPrefix'),
    );
    // With the cache (or its keyPrefix) it is taken.
    const tracking = createRedisTracking({ cache: b });
    closers.push(() => tracking.close());
  });
});
