/**
 * A tiered `clear()` reported as failed (`timeout` after `l2Timeout`) must not go on removing keys
 * once Redis answers again. Found from outside with redis-server SIGSTOPped: `clear()` rejected
 * after 500 ms; once Redis resumed, `set('k', 'new')` was acknowledged, and then the clear's
 * UNLINK round — each round had a deadline of its own, one command timeout from when it was sent —
 * removed it: L2 and every other instance missed the acknowledged value while the writer's L1
 * served it. Now the tiered cache passes its budget to the Redis cache's `clear({ timeout })`,
 * whose every round then carries the deadline of the call. Here the fault proxy holds the clear's
 * commands (400 ms) longer than the budget (100 ms) and less than the command timeout (2 s).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const HELD_MS = 400;
const BUDGET_MS = 100;
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

describeWithServers('late tiered clear', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    await proxy?.close();
    await redis?.stop();
  });

  it('a clear reported as timed out removes no key written after that report', async () => {
    const direct = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'cl1:' });
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: 'cl1:',
      commandTimeout: 2000,
    });
    // The L2 clear the tiered cache starts, to await its end (it outlives the caller's wait).
    let inner: Promise<void> | undefined;
    const clear = l2.clear.bind(l2);
    l2.clear = (options) => {
      inner = clear(options);
      return inner;
    };
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      l2Timeout: BUDGET_MS,
      breaker: false,
    });
    closers.push(
      () => tiered.close(),
      () => direct.close(),
    );
    await tiered.set('k', Buffer.from('old'));
    proxy.delay = HELD_MS;
    try {
      await assert.rejects(tiered.clear(), (e: { code?: string }) => e.code === 'timeout');
      // Another instance (or program) writes once the clear was reported failed.
      assert.equal(await direct.set('k', Buffer.from('new')), true);
    } finally {
      proxy.delay = 0;
    }
    assert.ok(inner, 'the tiered cache cleared L2');
    await inner.catch(() => {});
    // The L2 clear settles at its budget too now; its held round reaches Redis later: wait for it.
    await waitFor(() => l2.stats().inflight === 0, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the held clear round',
    });
    assert.equal(text(await direct.get('k')), 'new', 'the failed clear removed a newer write');
  });
});
