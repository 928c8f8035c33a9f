/**
 * A load in flight while the tracker confirms (a cache just made, tracking mode; tiered audit 2).
 * The L1 clear at the confirmation fenced every load in flight as if its key had been written, so
 * the value of the first getOrSet of a new instance never reached Redis, and the next instance
 * called its loader again. A confirmation (or a loss) is no write: such a load now stores its value
 * in L2 (conditionally, as always), while it still may not fill L1.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { text } from './tracking-helpers.js';

describeWithServers('tiered cache with tracking: a load spanning the first confirmation', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis?.stop();
  });

  for (const mode of ['default', 'bcast'] as const)
    it(`${mode} mode: its value reaches L2, and another instance does not load it again`, async () => {
      const make = () => {
        const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `tbr-${mode}:` });
        const c = createTieredCache({
          l1: createMemoryCache({ maxCost: 1 << 16 }),
          l2,
          tracking: createRedisTracking({ cache: l2, mode }),
          l1Ttl: 60_000,
        });
        closers.push(() => c.close());
        return { c, l2 };
      };
      const { c: a, l2 } = make();
      let loads = 0;
      const value = await a.getOrSet(
        'k',
        async () => {
          loads++;
          await a.ready; // the tracker confirms while this load runs
          return Buffer.from('loaded');
        },
        60_000,
      );
      assert.equal(text(value), 'loaded');
      assert.ok((await l2.get('k')) !== undefined, 'the loaded value reached L2');
      assert.equal(a.stats().backgroundWrites, 1);
      const { c: b } = make();
      await b.ready;
      assert.equal(text(await b.getOrSet('k', async () => Buffer.from('again'), 60_000)), 'loaded');
      assert.equal(loads, 1, 'one loader call for both instances');
    });
});
