/**
 * `watchTieredCoherence` with two tiered caches on one metrics instance. Both watched under the
 * default label `tiered` wrote the same series: the counters summed and each gauge showed the
 * cache read last, so a cache whose tracking was lost (its `cache_tracking_confirmed` 0) was
 * exported as 1 behind the other, for good; and a misspelt option (`{ nmae }`) was ignored. Now a
 * second watch under a taken label is `MetricsError('duplicate_cache')`, as `metrics.watchCache`
 * refuses it, and an unknown option is `invalid_option`.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  createRedisTracking,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache, watchTieredCoherence } from '../../../lib/cache/tiered/index.js';
import { createMetrics } from '../../../lib/metrics/prometheus/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

it('watchTieredCoherence refuses, at the call, a cache that is not a tiered cache', async () => {
  const metrics = createMetrics();
  try {
    for (const cache of [undefined, null, {}, createMemoryCache({ maxCost: 1 << 10 })])
      assert.throws(
        () => watchTieredCoherence(metrics, cache as never, { name: 'x' }),
        (err: Error & { code?: string }) =>
          err.code === 'invalid_option' && /needs a tiered cache/.test(err.message),
      );
    // Nothing was registered for them: no failed collect at the scrape, no coherence series.
    assert.doesNotMatch((await metrics.render()).body, /cache_tracking_confirmed/);
  } finally {
    await metrics.close();
  }
});

describeWithServers('watchTieredCoherence with two tiered caches', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  it('refuses a second cache under a taken label, so a lost tracking is not hidden behind it', async () => {
    const closers: (() => Promise<unknown>)[] = [];
    const tracked = (prefix: string) => {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix });
      const tracking = createRedisTracking({ cache: l2 });
      const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, tracking });
      closers.push(() => cache.close());
      return { cache, tracking };
    };
    const metrics = createMetrics();
    closers.push(() => metrics.close());
    try {
      const users = tracked('watch-users:');
      const sessions = tracked('watch-sessions:');
      await Promise.all([users.cache.ready, sessions.cache.ready]);

      watchTieredCoherence(metrics, users.cache);
      assert.throws(
        () => watchTieredCoherence(metrics, sessions.cache),
        (err: Error & { code?: string }) =>
          err.code === 'duplicate_cache' && /pass \{ name \}/.test(err.message),
      );
      assert.throws(
        () => watchTieredCoherence(metrics, sessions.cache, { nmae: 'sessions' } as { name?: string }),
        (err: Error & { code?: string }) =>
          err.code === 'invalid_option' && /did you mean `name`/.test(err.message),
      );
      watchTieredCoherence(metrics, sessions.cache, { name: 'sessions' });

      // The users cache loses tracking (its tracker closed under it): its L1 is bypassed.
      await users.tracking.close();
      await waitFor(() => users.cache.stats().trackingConfirmed === 0, { what: 'users tracking lost' });
      assert.equal(sessions.cache.stats().trackingConfirmed, 1);
      const body = (await metrics.render()).body;
      assert.match(body, /^cache_tracking_confirmed\{cache="tiered"\} 0$/m, 'the users cache shows its loss');
      assert.match(body, /^cache_tracking_confirmed\{cache="sessions"\} 1$/m);

      // A stopped watch frees its label (and a stale stop does not free it under a later watch).
      const stop = watchTieredCoherence(metrics, users.cache, { name: 'again' });
      stop();
      const later = watchTieredCoherence(metrics, users.cache, { name: 'again' });
      stop();
      assert.throws(
        () => watchTieredCoherence(metrics, users.cache, { name: 'again' }),
        (err: Error & { code?: string }) => err.code === 'duplicate_cache',
      );
      later();
    } finally {
      for (const close of closers.reverse()) await close().catch(() => {});
    }
  });

  it('cache_invalidations_total says what it counts: bus messages, tracking keys', async () => {
    const closers: (() => Promise<unknown>)[] = [];
    const both = () => {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'watch-units:' });
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        tracking: createRedisTracking({ cache: l2 }),
        bus: createRedisInvalidationBus({ client: l2.client, channel: 'watch-units:inv' }),
      });
      closers.push(() => cache.close());
      return cache;
    };
    const metrics = createMetrics();
    closers.push(() => metrics.close());
    try {
      const writer = both();
      const reader = both();
      await Promise.all([writer.ready, reader.ready]);
      const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
      await writer.setMany(keys.map((key) => ({ key, value: Buffer.from('v') })));
      await reader.getMany(keys); // read from L2: tracked for the reader
      watchTieredCoherence(metrics, reader);
      const series = async () => {
        const body = (await metrics.render()).body;
        const value = (source: string) =>
          Number(
            new RegExp(`^cache_invalidations_total\\{cache="tiered",source="${source}"\\} (\\S+)$`, 'm').exec(
              body,
            )?.[1] ?? 0,
          );
        return { body, bus: value('bus'), tracking: value('tracking') };
      };
      const before = await series();
      await writer.deleteMany(keys);
      await waitFor(async () => (await series()).tracking - before.tracking >= 50, {
        what: '50 keys reported',
      });
      await waitFor(async () => (await series()).bus - before.bus >= 1, { what: 'the bus message' });
      const after = await series();
      assert.equal(after.bus - before.bus, 1, 'one message for the deleteMany');
      assert.equal(after.tracking - before.tracking, 50, 'one per key');
      assert.match(
        after.body,
        /^# HELP cache_invalidations_total .*bus = messages .*tracking = keys/m,
        'the help text says so',
      );
    } finally {
      for (const close of closers.reverse()) await close().catch(() => {});
    }
  });
});
