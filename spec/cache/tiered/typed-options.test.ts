/**
 * `jsonCache` over real caches: the per-call options of the Cache contract reach the cache under
 * the typed view and keep their meaning there — a write or delete given a budget (`timeout`) that
 * the server cannot meet (writes paused with CLIENT PAUSE) rejects with `timeout` and never lands
 * later, on a Redis cache and on a tiered cache over Redis; `ifAbsent` and `ifEquals` (a typed
 * value, compared by its JSON encoding) are conditional writes on Redis. Before, the typed view
 * dropped every option: the same calls waited for the pause to end and then wrote.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import type { Cache } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { jsonCache } from '../../../lib/core/typed.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const PAUSE_MS = 1500;
const BUDGET_MS = 100;

/** The rejection of `r`; fails when it was fulfilled. */
function reason(r: PromiseSettledResult<unknown>, what: string): unknown {
  if (r.status === 'fulfilled') assert.fail(`${what} resolved ${String(r.value)} instead of rejecting`);
  return r.reason;
}

const isTimeout = (err: unknown) => {
  assert.ok(err instanceof CacheError, String(err));
  assert.equal(err.code, 'timeout');
  return true;
};

describeWithServers('jsonCache options on real caches', skipRedis(), () => {
  let redis: RedisStandalone;
  let l2: RedisCache;
  let tiered: TieredCache;
  const closers: (() => Promise<unknown>)[] = [];

  before(async () => {
    redis = await startRedis();
    const make = (prefix: string) =>
      createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix, commandTimeout: 5000 });
    l2 = make('typed:');
    closers.push(() => l2.close());
    tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: make('typed-tiered:'),
      l2Timeout: 4000,
      breaker: false,
    });
    closers.push(() => tiered.close());
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis?.stop();
  });

  /** Pauses every write on the server for `PAUSE_MS` (reads still answer). */
  async function pauseWrites(): Promise<void> {
    assert.equal(await redisCommand(redis.port, ['CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE']), 'OK');
  }
  /** Waits until the server takes writes again. */
  async function unpaused(): Promise<void> {
    await waitFor(
      async () => (await redisCommand(redis.port, ['SET', 'typed:probe', '1'], { timeoutMs: 200 })) === 'OK',
      { what: 'the write pause to end', timeoutMs: 10_000 },
    ).catch(() => redisCommand(redis.port, ['CLIENT', 'UNPAUSE']));
  }
  const raw = async (key: string) => {
    const v = await redisCommand(redis.port, ['GET', key]);
    return v === null ? undefined : String(v);
  };

  for (const [name, prefix, cache] of [
    ['Redis cache', 'typed:', () => l2],
    ['tiered cache over Redis', 'typed-tiered:', () => tiered],
  ] as const) {
    it(`${name}: set and delete with a budget the paused server cannot meet reject with timeout and never land`, async () => {
      const users = jsonCache<{ v: number }>(cache() as Cache);
      assert.equal(await users.set('kept', { v: 1 }, 60_000), true);
      await pauseWrites();
      try {
        // Both sent while the pause lasts (the Redis cache answers a paused write only once the
        // server does: it then refuses it as too late).
        const [set, del] = await Promise.allSettled([
          users.set('late', { v: 2 }, 60_000, { timeout: BUDGET_MS }),
          users.delete('kept', { timeout: BUDGET_MS }),
        ]);
        isTimeout(reason(set, 'the set'));
        isTimeout(reason(del, 'the delete'));
      } finally {
        await unpaused();
      }
      // Once the server answers again, neither the write nor the delete took effect.
      assert.equal(await raw(`${prefix}late`), undefined, 'the timed-out set landed after the pause');
      assert.notEqual(await raw(`${prefix}kept`), undefined, 'the timed-out delete landed after the pause');
      assert.equal(await users.get('late'), undefined);
      assert.deepEqual(await users.get('kept'), { v: 1 });
    });
  }

  it('Redis cache: ifAbsent and ifEquals (a typed value) are conditional writes on the server', async () => {
    const counters = jsonCache<{ n: number; tags: string[] }>(l2);
    assert.equal(await counters.set('c', { n: 1, tags: ['a'] }, undefined, { ifAbsent: true }), true);
    assert.equal(await counters.set('c', { n: 9, tags: [] }, undefined, { ifAbsent: true }), false);
    const seen = (await counters.get('c'))!;
    assert.equal(await counters.set('c', { ...seen, n: seen.n + 1 }, 60_000, { ifEquals: seen }), true);
    assert.equal(await counters.set('c', { ...seen, n: 100 }, 60_000, { ifEquals: seen }), false);
    assert.deepEqual(await counters.get('c'), { n: 2, tags: ['a'] });
    assert.equal(await raw('typed:c'), '{"n":2,"tags":["a"]}');
  });

  it('tiered cache: ifEquals is refused (its levels hold envelopes) rather than written unconditionally', async () => {
    const counters = jsonCache<{ n: number }>(tiered);
    await counters.set('t', { n: 1 });
    await assert.rejects(
      counters.set('t', { n: 2 }, undefined, { ifEquals: { n: 1 } }),
      (e: unknown) => e instanceof CacheError && e.code === 'invalid_value',
    );
    assert.deepEqual(await counters.get('t'), { n: 1 });
    assert.equal(await counters.set('t', { n: 3 }, undefined, { ifAbsent: true }), false);
  });
});
