/**
 * The cross-instance loader lease on real Redis, when the holder does not deliver:
 * - its loader fails: it releases the lease, and a waiting instance takes it over and loads at
 *   once. Before, every waiter polled L2 for the whole `leaseWait` for a value that would never
 *   come (a `leaseTimeout` each), then loaded;
 * - the waiting instance is closed: its caller gets `closed`. Before, the wait ended with a
 *   `leaseTimeout` and the closed cache called the loader.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisLease } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
let unique = 0;

describeWithServers('tiered lease: a holder that does not deliver', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    await redis?.stop();
  });

  /** `n` instances on one key space; `refusals[i]` counts the times instance i was refused the lease. */
  const instances = (n: number): { caches: TieredCache[]; refusals: number[] } => {
    const ns = `lt${++unique}`;
    const refusals = new Array<number>(n).fill(0);
    const caches = Array.from({ length: n }, (_, i) => {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `${ns}:` });
      const lease = createRedisLease({ client: l2.client, prefix: `${ns}:lease:` });
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        lease: {
          async acquire(key) {
            const release = await lease.acquire(key);
            if (release === undefined) refusals[i]!++;
            return release;
          },
        },
        // Long enough that waiting it out is not the way the waiter gets its answer.
        leaseWait: 5_000,
      });
      closers.push(() => cache.close());
      return cache;
    });
    return { caches, refusals };
  };
  const leaseHeld = async (key: string) =>
    Number(await redisCommand(redis.port, ['EXISTS', `lt${unique}:lease:${key}`])) === 1;

  it("the holder's loader fails: a waiting instance takes the lease over and loads (no lease timeout)", async () => {
    const { caches, refusals } = instances(2);
    const [a, b] = caches as [TieredCache, TieredCache];
    let fail!: () => void;
    const failing = new Promise<void>((r) => {
      fail = r;
    });
    const held = a.getOrSet('k', async () => {
      await failing;
      throw new Error('database down');
    });
    held.catch(() => {});
    await waitFor(() => leaseHeld('k'), { timeoutMs: 3000, what: 'a to hold the lease' });
    let bLoads = 0;
    const waiting = b.getOrSet('k', async () => {
      bLoads++;
      return Buffer.from('from b');
    });
    // b is refused the lease and polls; then a's load fails and a releases it.
    await waitFor(() => refusals[1]! > 0, { timeoutMs: 3000, what: 'b to be refused the lease' });
    fail();
    await assert.rejects(held, /database down/);
    assert.equal(text(await waiting), 'from b');
    assert.equal(bLoads, 1);
    assert.equal(b.stats().leaseTimeouts, 0, 'b did not wait out leaseWait');
    // Its release is sent as its load returns (not awaited by the caller).
    await waitFor(async () => !(await leaseHeld('k')), { timeoutMs: 3000, what: 'b to release the lease' });
  });

  it('a waiting instance closed meanwhile: its caller gets closed, its loader is not called', async () => {
    const { caches, refusals } = instances(2);
    const [a, b] = caches as [TieredCache, TieredCache];
    let deliver!: () => void;
    const slow = new Promise<void>((r) => {
      deliver = r;
    });
    const held = a.getOrSet('k', async () => {
      await slow;
      return Buffer.from('from a');
    });
    await waitFor(() => leaseHeld('k'), { timeoutMs: 3000, what: 'a to hold the lease' });
    let bLoads = 0;
    const waiting = b.getOrSet('k', async () => {
      bLoads++;
      return Buffer.from('from b');
    });
    waiting.catch(() => {});
    await waitFor(() => refusals[1]! > 0, { timeoutMs: 3000, what: 'b to be refused the lease' });
    await b.close();
    await assert.rejects(waiting, (e: unknown) => e instanceof CacheError && e.code === 'closed');
    assert.equal(bLoads, 0, 'the closed cache did not call its loader');
    assert.equal(b.stats().leaseTimeouts, 0);
    deliver();
    assert.equal(text(await held), 'from a');
  });
});
