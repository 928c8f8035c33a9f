/**
 * A lease waiter (another instance holds the key's loader lease) when its cache is closed, on
 * real Redis. The waiter slept out its current poll before it looked at `closed`: its `getOrSet`
 * rejected, and its poll timer kept the process alive, up to `leasePoll` ms after `close()` had
 * resolved (~4.7 s at `leasePoll: 5000`). `close()` now wakes the waiters, which reject with
 * `closed` by the time it resolves.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisLease } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import type { LoaderLease } from '../../../lib/core/contracts.js';
import { deferred, tick } from '../../harness/clock.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('tiered lease waiter and close()', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis?.stop();
  });

  const instance = (wrap: (lease: LoaderLease) => LoaderLease = (l) => l): TieredCache => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'lwc:' });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      lease: wrap(createRedisLease({ client: l2.client })),
      leaseWait: 60_000,
      leasePoll: 30_000,
    });
    closers.push(() => cache.close());
    return cache;
  };

  it('a waiter between two polls rejects with closed by the time close() resolves', async () => {
    const holder = instance();
    const loading = deferred<void>();
    const holding = deferred<void>();
    const held = holder.getOrSet('k', async () => {
      holding.resolve();
      await loading.promise;
      return Buffer.from('v');
    });
    // The holder's loader runs once it has the lease: only then does the waiter ask (started side
    // by side, the waiter's SET could reach Redis first, and then nobody refused it).
    await holding.promise;
    // The waiter's lease attempt is refused (the holder has it): it then sleeps until its next poll.
    const refused = deferred<void>();
    const waiter = instance((lease) => ({
      reservedKeyPrefix: lease.reservedKeyPrefix,
      acquire: async (key, options) => {
        const release = await lease.acquire(key, options);
        if (release === undefined) refused.resolve();
        return release;
      },
    }));
    let outcome: unknown;
    const waiting = waiter
      .getOrSet('k', async () => Buffer.from('w'))
      .then(
        (v) => {
          outcome = v;
        },
        (err) => {
          outcome = err;
        },
      );
    await refused.promise;
    await tick();

    await waiter.close();
    for (let i = 0; i < 5 && outcome === undefined; i++) await tick();
    assert.equal((outcome as { code?: string } | undefined)?.code, 'closed', 'rejected with closed');

    loading.resolve();
    assert.equal(Buffer.from(await held).toString(), 'v', "the holder's load is unaffected");
    await waiting;
  });
});
