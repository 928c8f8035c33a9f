/**
 * The invalidation of a large `deleteMany` (or `setMany`) reaches the other instances without
 * cutting their subscriber. It was one pub/sub message naming every key; Redis disconnects a
 * subscriber whose pending output passes `client-output-buffer-limit pubsub` (32 MB hard by
 * default), so 100,000 keys of 400 bytes (40 MB) cut every instance's subscriber: each cleared its
 * whole L1 — unrelated keys too — and the invalidation itself was never delivered. The bus now
 * splits a message over 1 MiB. Here the server's limit is 4 MB and the keys make ~6 MB.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('tiered cache: a large invalidation over the Redis bus', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  const tiered = (id: string): TieredCache => {
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: 'bli:',
      commandTimeout: 30_000,
    });
    const c = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 28 }),
      l2,
      ttl: 600_000,
      l2Timeout: 30_000,
      instanceId: id,
      bus: createRedisInvalidationBus({ client: l2.client, channel: 'bli:inv' }),
    });
    closers.push(() => c.close());
    return c;
  };
  before(async () => {
    redis = await startRedis({ extraConfig: ['client-output-buffer-limit pubsub 4mb 4mb 0'] });
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis?.stop();
  });

  it('reaches the other instance whole, which keeps the rest of its L1', async () => {
    const a = tiered('A');
    const b = tiered('B');
    await Promise.all([a.ready, b.ready]);
    const keys = Array.from({ length: 15_000 }, (_, i) => `k${i}-`.padEnd(400, 'x')); // ~6 MB of keys
    const v = Buffer.from('v');
    await b.set('unrelated', v);
    const first = b.stats().l1Hits;
    await b.get('unrelated');
    assert.equal(b.stats().l1Hits, first + 1, 'the unrelated key is in L1');
    await a.setMany(keys.map((key) => ({ key, value: v })));
    assert.equal((await b.getMany(keys)).filter((x) => x !== undefined).length, keys.length); // now in B's L1
    const before = b.stats();

    await a.deleteMany(keys);
    await waitFor(
      () =>
        b.stats().invalidationsReceived > before.invalidationsReceived ||
        b.stats().l1Clears > before.l1Clears,
      {
        timeoutMs: 10_000,
        what: "A's invalidation (or a cleared L1) at B",
      },
    );
    // Every part has come once B reads none of the deleted keys.
    await waitFor(async () => (await b.getMany(keys)).every((x) => x === undefined), {
      timeoutMs: 10_000,
      what: 'the deleted keys gone from B',
    });
    const after = b.stats();
    assert.equal(after.busReconnects, before.busReconnects, "B's subscriber was not cut");
    assert.equal(after.l1Clears, before.l1Clears, "B's L1 was not cleared");
    const hits = after.l1Hits;
    assert.equal((await b.get('unrelated'))?.length, 1);
    assert.equal(b.stats().l1Hits, hits + 1, 'the unrelated key is still served from L1');
  });
});
