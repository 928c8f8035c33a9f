/**
 * Tiered caches of different keyspaces (L2 key prefixes) on one invalidation channel — the
 * default channel, which every cache a config builds uses unless `invalidation.channel` is set:
 * two services on one Redis, `users:` and `orders:`. Messages named keys without their keyspace,
 * so every write of one dropped the other's L1 copy of the key of that name (an L2 read each) and
 * a `clear()` of one emptied the other's whole L1. Messages now carry the L2's keyspace (database
 * and key prefix), and a cache ignores another keyspace's; a cache of the same keyspace still
 * applies them, and so is a message without one (an older version's).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { holdInL1 } from './tracking-helpers.js';

describeWithServers('tiered caches of different keyspaces on one bus channel', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis?.stop();
  });

  /** A tiered cache over its own Redis L2 with `keyPrefix`, on the default bus channel. */
  const tiered = (keyPrefix: string) => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix });
    const bus = createRedisInvalidationBus({ client: l2.client });
    const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, bus, l1Ttl: 60_000 });
    closers.push(
      () => l2.close(),
      () => bus.close(),
      () => cache.close(),
    );
    return cache;
  };

  it("a write and a clear() of another keyspace leave the L1 copies alone; the same keyspace's still drop them", async () => {
    const users = tiered('users:');
    const orders = tiered('orders:');
    const usersElsewhere = tiered('users:'); // another instance of the users service
    await Promise.all([users.ready, orders.ready, usersElsewhere.ready]);
    await users.set('1', Buffer.from('alice'), 60_000);
    await users.set('2', Buffer.from('bob'), 60_000);
    assert.equal(await holdInL1(users, '1'), 'alice');
    assert.equal(await holdInL1(users, '2'), 'bob');

    await orders.set('1', Buffer.from('order one'), 60_000);
    await orders.clear();
    // Published after the orders' messages, so heard after them (one channel, in order).
    await usersElsewhere.set('2', Buffer.from('robert'), 60_000);
    await waitFor(() => users.stats().invalidationsReceived >= 1, { what: "the users instance's message" });

    assert.equal((await users.getWithMeta('1'))?.source, 'l1', "orders' key 1 and clear() left users' L1");
    const two = await users.getWithMeta('2');
    assert.equal(two?.source, 'l2', 'the same keyspace still invalidates');
    assert.equal(Buffer.from(two?.value ?? []).toString(), 'robert');
    const s = users.stats();
    assert.equal(s.invalidationsReceived, 1);
    assert.equal(s.l1Clears, 0);
  });

  it("overlapping keyspaces (no prefix, the whole database, and users:) apply each other's clear() and their shared keys", async () => {
    const whole = tiered('');
    const users = tiered('users:');
    await Promise.all([whole.ready, users.ready]);
    await users.set('1', Buffer.from('alice'), 60_000);
    assert.equal(await holdInL1(users, '1'), 'alice');
    // The whole database's clear() deleted users:1 too: users' L1 copy goes with it.
    await whole.clear();
    await waitFor(() => users.stats().invalidationsReceived >= 1, {
      what: 'the clear of the whole database',
    });
    assert.equal(await users.getWithMeta('1'), undefined);
    assert.equal(users.stats().l1Clears, 1);

    // users:2 written without a prefix is users' key 2, and the other way round.
    await users.set('2', Buffer.from('bob'), 60_000);
    assert.equal(await holdInL1(users, '2'), 'bob');
    await whole.set('users:2', Buffer.from('robert'), 60_000);
    await waitFor(() => users.stats().invalidationsReceived >= 2, { what: "the whole database's write" });
    const two = await users.getWithMeta('2');
    assert.equal(two?.source, 'l2');
    assert.equal(Buffer.from(two?.value ?? []).toString(), 'robert');
    assert.equal(await holdInL1(whole, 'users:2'), 'robert');
    const heard = whole.stats().invalidationsReceived;
    await users.set('2', Buffer.from('bobby'), 60_000);
    await waitFor(() => whole.stats().invalidationsReceived > heard, { what: "users' write" });
    const back = await whole.getWithMeta('users:2');
    assert.equal(back?.source, 'l2');
    assert.equal(Buffer.from(back?.value ?? []).toString(), 'bobby');
  });

  it('a message without a keyspace (an older version) is applied', async () => {
    const cache = tiered('legacy:');
    await cache.ready;
    await cache.set('k', Buffer.from('v'), 60_000);
    assert.equal(await holdInL1(cache, 'k'), 'v');
    await redisCommand(redis.port, [
      'PUBLISH',
      'hyperion:tiered:invalidate',
      JSON.stringify({ o: 'old', k: ['k'] }),
    ]);
    await waitFor(() => cache.stats().invalidationsReceived >= 1, { what: 'the old-format message' });
    assert.equal((await cache.getWithMeta('k'))?.source, 'l2');
  });
});
