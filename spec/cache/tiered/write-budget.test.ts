/**
 * A tiered write or delete given a budget (`WriteOptions.timeout`) shorter than `l2Timeout` is
 * answered within that budget when L2 cannot take it (real Redis, writes paused with CLIENT PAUSE
 * WRITE): it rejects with `timeout` about when the budget is spent — not when `l2Timeout` runs out
 * or the pause ends — and never lands later. Before, the tiered cache passed the budget to L2 as
 * its deadline but waited for L2 up to `l2Timeout`, so the caller waited the whole pause.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const PAUSE_MS = 2500;
const BUDGET_MS = 150;
// Far below the pause, far above the budget: room for a loaded machine either way.
const BOUND_MS = 1500;

describeWithServers('tiered write budgets on real Redis', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: TieredCache;

  before(async () => {
    redis = await startRedis();
    cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        keyPrefix: 'wb:',
        commandTimeout: 8000,
      }),
      l2Timeout: 6000,
      breaker: false,
    });
  });
  after(async () => {
    await cache?.close().catch(() => {});
    await redis?.stop();
  });

  const raw = async (key: string) => {
    const v = await redisCommand(redis.port, ['GET', `wb:${key}`]);
    return v === null ? undefined : v;
  };

  it('set, setMany, delete and deleteMany reject with timeout within the caller budget and never land', async () => {
    await cache.set('d1', Buffer.from('kept'), 60_000);
    await cache.set('d2', Buffer.from('kept'), 60_000);
    assert.equal(await redisCommand(redis.port, ['CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE']), 'OK');
    const timed = async (what: string, call: () => Promise<unknown>) => {
      const start = performance.now();
      const outcome = await call().then(
        (v) => `resolved ${String(v)}`,
        (e: unknown) => (e instanceof CacheError ? e.code : String(e)),
      );
      return { what, outcome, ms: performance.now() - start };
    };
    const results = await Promise.all([
      timed('set', () => cache.set('s', Buffer.from('late'), 60_000, { timeout: BUDGET_MS })),
      timed('setMany', () =>
        cache.setMany([{ key: 'm', value: Buffer.from('late') }], { timeout: BUDGET_MS }),
      ),
      timed('delete', () => cache.delete('d1', { timeout: BUDGET_MS })),
      timed('deleteMany', () => cache.deleteMany(['d2'], { timeout: BUDGET_MS })),
    ]);
    for (const r of results) {
      assert.equal(r.outcome, 'timeout', `${r.what}: ${r.outcome}`);
      assert.ok(r.ms < BOUND_MS, `${r.what} answered after ${r.ms.toFixed(0)} ms (budget ${BUDGET_MS} ms)`);
    }
    await waitFor(
      async () => (await redisCommand(redis.port, ['SET', 'wb:probe', '1'], { timeoutMs: 300 })) === 'OK',
      { timeoutMs: 10_000, what: 'the pause to end' },
    );
    // None of them took effect once the server answered again.
    assert.equal(await raw('s'), undefined);
    assert.equal(await raw('m'), undefined);
    assert.notEqual(await raw('d1'), undefined);
    assert.notEqual(await raw('d2'), undefined);
    assert.equal(await cache.get('s'), undefined);
    assert.equal(Buffer.from((await cache.get('d1'))!).toString(), 'kept');
    console.log(
      `# tiered writes with a ${BUDGET_MS} ms budget during a ${PAUSE_MS} ms write pause answered after ${results.map((r) => `${r.what} ${r.ms.toFixed(0)} ms`).join(', ')}`,
    );
  });
});
