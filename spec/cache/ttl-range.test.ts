/**
 * Every Cache implementation accepts and refuses the same TTLs, with the same typed error: a TTL is
 * a positive finite number of ms up to 2^52 (`MAX_CALL_TTL_MS`, the largest `PX` a double holds
 * exactly). Before, the memory, sync memory, no-op and tiered (memory L2) caches took 2^52 + 1 or
 * 1e300 while the Redis adapter refused them, so code tested on memory failed on Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createMemoryCache, createSyncMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import type { Cache } from '../../lib/core/contracts.js';
import { CacheError } from '../../lib/core/errors.js';
import { createNoopCache, MAX_CALL_TTL_MS } from '../../lib/core/index.js';
import { describeWithServers } from '../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';

const RUNS = Number(process.env.HYPERION_TTL_RUNS ?? 150);

/** What the contract says: accepted iff a positive finite number of ms ≤ 2^52. */
const accepted = (ttl: unknown) =>
  typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 && ttl <= MAX_CALL_TTL_MS;

const ttlArb = fc.oneof(
  fc.constantFrom(
    2 ** 52,
    2 ** 52 + 1,
    2 ** 52 - 1,
    2 ** 53,
    2 ** 53 + 2,
    1e300,
    Number.MAX_VALUE,
    Number.MAX_SAFE_INTEGER,
    365 * 24 * 3600 * 1000 + 1,
    2 ** 31,
    1,
    0.5,
    Number.MIN_VALUE,
    0,
    -0,
    -1,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.NaN,
  ),
  fc.double(),
  fc.double({ min: 2 ** 51, max: 2 ** 54, noNaN: true }),
  fc.integer({ min: -10, max: 2 ** 31 }),
  fc.constantFrom<unknown>('1000', null, true, {}, 10n),
);

type Outcome = 'ok' | { code: string; message: string };

async function outcome(run: () => unknown): Promise<Outcome> {
  try {
    await run();
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof CacheError, `not a CacheError: ${String(err)}`);
    return { code: err.code, message: err.message };
  }
}

let n = 0;
/** set, setMany and getOrSet (on a miss) with `ttl`, on a fresh key each time. */
async function outcomes(cache: Cache, ttl: unknown): Promise<Outcome[]> {
  const key = `ttl-${++n}`;
  const value = Buffer.from('v');
  return [
    await outcome(() => cache.set(key, value, ttl as number)),
    await outcome(() => cache.setMany([{ key: `${key}-m`, value, ttl: ttl as number }])),
    await outcome(() => cache.getOrSet(`${key}-g`, async () => value, ttl as number)),
  ];
}

function syncOutcome(ttl: unknown): Promise<Outcome> {
  const sync = createSyncMemoryCache<string>({ maxCost: 1 << 20 });
  return outcome(() => sync.set(`s${++n}`, 'v', { ttl: ttl as number }));
}

/** Runs the property over `caches`: each agrees with the contract and with the others. */
async function agree(caches: Record<string, Cache>, runs = RUNS): Promise<void> {
  await fc.assert(
    fc.asyncProperty(ttlArb, async (ttl) => {
      const expected = accepted(ttl);
      const reference = await syncOutcome(ttl);
      assert.equal(reference === 'ok', expected, `sync memory cache, ttl ${String(ttl)}`);
      if (reference !== 'ok') assert.equal(reference.code, 'invalid_ttl');
      for (const [name, cache] of Object.entries(caches)) {
        for (const got of await outcomes(cache, ttl)) {
          // Same acceptance, same typed error, same words as every other cache.
          assert.deepEqual(got, reference, `${name}, ttl ${String(ttl)}`);
        }
      }
    }),
    { numRuns: runs },
  );
}

describe('cache TTL range: memory, sync memory, no-op and tiered agree', () => {
  const memory = createMemoryCache({ maxCost: 1 << 20 });
  const noop = createNoopCache();
  const tiered = createTieredCache({
    l1: createMemoryCache({ maxCost: 1 << 20 }),
    l2: createMemoryCache({ maxCost: 1 << 20 }),
  });
  after(async () => {
    await Promise.all([memory.close(), tiered.close()]);
  });

  it('2^52 ms is accepted, 2^52 + 1 ms refused with CacheError invalid_ttl, by every cache', async () => {
    for (const cache of [memory, noop, tiered]) {
      assert.deepEqual(await outcomes(cache, 2 ** 52), ['ok', 'ok', 'ok'], cache.name);
      for (const got of await outcomes(cache, 2 ** 52 + 1)) {
        assert.notEqual(got, 'ok', cache.name);
        assert.equal((got as { code: string }).code, 'invalid_ttl');
        assert.match((got as { message: string }).message, /at most 4503599627370496 ms/);
      }
    }
    assert.throws(
      () => createSyncMemoryCache<string>({ maxCost: 10 }).set('k', 'v', { ttl: 1e300 }),
      (err: unknown) => err instanceof CacheError && err.code === 'invalid_ttl',
    );
  });

  it('property: every TTL is accepted or refused alike (same code and message)', async () => {
    await agree({ memory, noop, tiered });
  });
});

describeWithServers(
  'cache TTL range: the Redis adapter and a tiered cache over it agree too',
  skipRedis(),
  () => {
    let redis: RedisStandalone;
    const closers: (() => Promise<unknown>)[] = [];
    const caches: Record<string, Cache> = {};
    before(async () => {
      redis = await startRedis();
      const l2 = () =>
        createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'ttl:', commandTimeout: 2000 });
      const r = l2();
      const t = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 20 }), l2: l2() });
      const m = createMemoryCache({ maxCost: 1 << 20 });
      Object.assign(caches, { redis: r, tiered: t, memory: m, noop: createNoopCache() });
      closers.push(
        () => t.close(),
        () => r.close(),
        () => m.close(),
      );
    });
    after(async () => {
      for (const close of closers) await close().catch(() => {});
      await redis?.stop();
    });

    it('property: Redis, tiered-over-Redis, memory and no-op accept and refuse the same TTLs', async () => {
      await agree(caches);
    });

    it('a tiered cache with grace and jitter accepts 2^52 ms too (level TTLs are capped, not refused)', async () => {
      const l2 = createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        keyPrefix: 'ttlg:',
        commandTimeout: 2000,
      });
      const t = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        grace: 60_000,
        jitter: 0.1,
        random: () => 0.99, // jitter near +10 %: every level TTL lands beyond 2^52 before the cap
      });
      closers.push(() => t.close());
      assert.deepEqual(await outcomes(t, 2 ** 52), ['ok', 'ok', 'ok']);
      assert.deepEqual(await outcomes(t, 2 ** 52 - 1000), ['ok', 'ok', 'ok']);
      const pttl = await l2.client.pttl(`ttlg:ttl-${n}`);
      assert.ok(pttl > 2 ** 52 - 60_000 && pttl <= 2 ** 52, `pttl ${pttl} (capped at 2^52)`);
    });

    it('an accepted 2^52 ms TTL reaches Redis as PX 4503599627370496', async () => {
      const redisCache = caches.redis as ReturnType<typeof createRedisCache>;
      assert.equal(await redisCache.set('edge', Buffer.from('x'), 2 ** 52), true);
      const pttl = await redisCache.client.pttl('ttl:edge');
      assert.ok(pttl > 2 ** 52 - 60_000 && pttl <= 2 ** 52, `pttl ${pttl}`);
    });
  },
);
