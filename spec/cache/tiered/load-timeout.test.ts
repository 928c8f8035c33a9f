/**
 * A loader that never settles (a database call without a timeout, on a connection that went
 * silent). Without a bound it held its key's flight for good: every later getOrSet of that key in
 * the process joined it and hung too, a stale value inside `grace` was never served, and the
 * batch path likewise. `loadTimeout` bounds the wait: the callers get `timeout` (or the stale
 * value), and the next caller starts a new load.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const never = () => new Promise<never>(() => {});
const timedOut = (e: unknown) => e instanceof CacheError && e.code === 'timeout';
let unique = 0;
/** `p`, or a rejection after 10 s: on a cache without the bound the hung calls never settle. */
const within = <T>(p: Promise<T>): Promise<T> =>
  Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('still waiting after 10 s')), 10_000).unref(),
    ),
  ]);

describeWithServers('tiered loadTimeout: a loader that never settles', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    await redis?.stop();
  });

  const open = (extra: { grace?: number } = {}): TieredCache => {
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `lt${++unique}:` }),
      loadTimeout: 150,
      ...extra,
    });
    closers.push(() => cache.close());
    return cache;
  };

  it('the callers of a hung load get timeout; the next caller loads anew', async () => {
    const cache = open();
    const hung = Array.from({ length: 100 }, () => cache.getOrSet('k', never, 60_000));
    for (const p of hung) await assert.rejects(within(p), timedOut);
    assert.equal(text(await cache.getOrSet('k', async () => Buffer.from('v'), 60_000)), 'v');
    const s = cache.stats();
    assert.equal(s.loaderCalls, 2);
    assert.equal(s.loaderErrors, 1);
    assert.equal(s.misses, 101);
  });

  it('getOrSetMany: a hung loadMany fails its keys with timeout, then loads anew', async () => {
    const cache = open();
    await assert.rejects(within(cache.getOrSetMany(['a', 'b'], never, 60_000)), timedOut);
    const values = await cache.getOrSetMany(
      ['a', 'b'],
      async (keys) => keys.map((k) => Buffer.from(k)),
      60_000,
    );
    assert.deepEqual(values.map(text), ['a', 'b']);
  });

  it('with grace, a stale value is served instead of the timeout', async () => {
    const cache = open({ grace: 60_000 });
    await cache.set('k', Buffer.from('old'), 1);
    await new Promise((r) => setTimeout(r, 20));
    const r = await within(cache.getOrSetWithMeta('k', never, 60_000));
    assert.deepEqual([text(r.value), r.source, r.stale], ['old', 'stale', true]);
  });

  it('rejects a loadTimeout that is not a positive number of ms', () => {
    for (const loadTimeout of [0, -1, Number.NaN, '100'])
      assert.throws(
        () =>
          createTieredCache({
            l1: createMemoryCache({ maxCost: 1 << 10 }),
            l2: createMemoryCache({ maxCost: 1 << 10 }),
            loadTimeout: loadTimeout as number,
          }),
        /loadTimeout/,
      );
  });
});
