/**
 * Everything the Redis adapter sends, in one run: the cache's commands, a transaction, clear(),
 * health(), and a tiered cache on top with the Redis invalidation bus and loader lease. Used to
 * prove that the adapter works under the least-privilege ACL (lib/cache/redis/acl.ts) on each
 * topology: after it, `ACL LOG` on the servers must be empty.
 */
import assert from 'node:assert/strict';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisInvalidationBus,
  createRedisLease,
  type RedisCache,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { waitFor } from '../../harness/process.js';
import { dec, enc } from './helpers.js';

export const BUS_CHANNEL = 'app:invalidate';
export const LEASE_PREFIX = 'app-lease:';

/** Runs the whole surface on `cache` (and `peer`, a second instance for the bus). */
export async function runWorkload(cache: RedisCache, peer: RedisCache): Promise<void> {
  // Keys in one hash slot where a command takes several (cluster).
  assert.equal(await cache.set('{w}a', enc('1')), true);
  assert.equal(await cache.set('{w}b', enc('2'), 60_000), true);
  assert.equal(dec(await cache.get('{w}a')), '1');
  assert.equal(await cache.has('{w}a'), true);
  assert.deepEqual((await cache.getMany(['{w}a', '{w}b', '{w}c'])).map(dec), ['1', '2', undefined]);
  const withTtl = await cache.getManyWithTtl(['{w}a', '{w}b', '{w}c']);
  assert.deepEqual(
    withTtl.map((h) => h && [dec(h.value), h.ttl === undefined ? 'none' : h.ttl > 50_000]),
    [['1', 'none'], ['2', true], undefined],
  );
  assert.deepEqual(await cache.getManyWithTtl([]), []);
  await cache.setMany([
    { key: '{w}c', value: enc('3') },
    { key: '{w}d', value: enc('4'), ttl: 60_000 },
  ]);
  assert.equal(await cache.delete('{w}a'), true);
  assert.equal(dec(await cache.getOrSet('{w}e', async () => enc('5'))), '5');
  const tx = await cache.transaction(
    async (t) => {
      const n = Number(dec(await t.read('{w}c')) ?? '0');
      t.set('{w}c', enc(String(n + 1)), 60_000);
    },
    { watch: ['{w}c'] },
  );
  assert.equal(tx.ok, true);
  assert.equal(dec(await cache.get('{w}c')), '4');
  const p = cache.pipeline();
  p.set('{w}f', enc('6')).get('{w}f').delete('{w}d');
  assert.equal((await p.exec())[2], true);
  // Deletes run in the deadline script (EVALSHA/EVAL with UNLINK inside), one key or many.
  assert.equal(await cache.deleteMany(['{w}b', '{w}f', '{w}none']), 2);
  const h = await cache.health();
  assert.equal(h.ok, true, h.error);
  await cache.clear();
  assert.equal(await cache.get('{w}c'), undefined);

  // Tiered: bus (PUBLISH/SUBSCRIBE on its channel) and lease (SET NX PX + EVAL release).
  const tiered = (c: RedisCache, id: string) =>
    createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: c,
      bus: createRedisInvalidationBus({ client: c.client, channel: BUS_CHANNEL }),
      lease: createRedisLease({ client: c.client, prefix: LEASE_PREFIX, ttl: 2000 }),
      instanceId: id,
    });
  const a = tiered(cache, 'A');
  const b = tiered(peer, 'B');
  try {
    await Promise.all([a.ready, b.ready]);
    assert.equal(dec(await b.getOrSet('t', async () => enc('v1'))), 'v1');
    await a.set('t', enc('v2'), 60_000);
    await waitFor(() => b.stats().invalidationsReceived > 0, { what: 'an invalidation over the bus' });
    assert.equal(dec(await b.get('t')), 'v2');
  } finally {
    await a.close();
    await b.close();
  }
}
