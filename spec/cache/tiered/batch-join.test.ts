/**
 * A single-key getOrSet that joins a getOrSetMany batch gets its own key's outcome. The batch's
 * loadMany runs for the keys L2 lacks; when it fails, that is the error of those keys only. Before,
 * the whole batch rejected, so a getOrSet('a') that joined it failed with the loader error of key
 * 'b' although 'a' was fresh in L2 (its own loader never called), and 'a' was counted a miss twice.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

describeWithServers('tiered getOrSetMany shared with single-key callers', skipRedis(), () => {
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

  it("a getOrSet joining a batch whose loadMany fails gets its key's L2 value, counted as an L2 hit", async () => {
    const writer = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'bj:' }),
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: createRedisCache({
        addresses: [`127.0.0.1:${proxy.port}`],
        keyPrefix: 'bj:',
        commandTimeout: 2000,
      }),
      l2Timeout: 1500,
    });
    closers.push(
      () => writer.close(),
      () => cache.close(),
    );
    await writer.set('a', Buffer.from('A'), 60_000);
    assert.equal(text(await cache.get('warm-up')), undefined);
    const before = cache.stats();

    // The batch's L2 read is held by the proxy, so the single-key call arrives while it runs.
    proxy.delay = 1000;
    let batch: Promise<Uint8Array[]>;
    let single: Promise<Uint8Array>;
    let singleLoads = 0;
    try {
      batch = cache.getOrSetMany(['a', 'b'], async () => {
        throw new Error('loading b failed');
      });
      batch.catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
      single = cache.getOrSet('a', async () => {
        singleLoads++;
        return Buffer.from('loaded here');
      });
      await assert.rejects(batch, /loading b failed/);
    } finally {
      proxy.delay = 0;
    }
    assert.equal(text(await single), 'A', "the joined caller gets 'a' as L2 holds it");
    assert.equal(singleLoads, 0, 'it joined the batch (its own loader was not called)');
    const after = cache.stats();
    assert.equal(after.l2Hits - before.l2Hits, 2, "'a' is an L2 hit for the batch and for the joined caller");
    assert.equal(after.misses - before.misses, 1, "only 'b' is a miss");
    assert.equal(after.loaderErrors - before.loaderErrors, 1);
  });
});

// Joiners of a failed load get its error, whichever path started it; none calls its own loader.
// (Checked from outside as a suspected second load: getOrSet joining a failing getOrSetMany, and
// getOrSet joining a failing getOrSet, both rejected with the first load's error, 0 extra loads.)
it('a getOrSet joining a failing getOrSetMany gets its error, as one joining a failing getOrSet does', async () => {
  const cache = createTieredCache({
    l1: createMemoryCache({ maxCost: 1 << 20 }),
    l2: createMemoryCache({ maxCost: 1 << 20 }),
  });
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let joinerLoads = 0;
    const joiner = async () => {
      joinerLoads++;
      return Buffer.from('second load');
    };
    const batch = cache.getOrSetMany(['a', 'b'], async () => {
      await held;
      throw new Error('batch failed');
    });
    const single = cache.getOrSet('c', async () => {
      await held;
      throw new Error('single failed');
    });
    // Both loads have started (their L2 reads answered) before the joiners come.
    await new Promise((r) => setImmediate(r));
    const joinedBatch = cache.getOrSet('a', joiner);
    const joinedSingle = cache.getOrSet('c', joiner);
    release();
    await assert.rejects(batch, /batch failed/);
    await assert.rejects(single, /single failed/);
    await assert.rejects(joinedBatch, /batch failed/);
    await assert.rejects(joinedSingle, /single failed/);
    assert.equal(joinerLoads, 0, 'no joiner ran its own loader');
    assert.equal(text(await cache.getOrSet('a', joiner)), 'second load', 'the next call loads anew');
  } finally {
    await cache.close();
  }
});
