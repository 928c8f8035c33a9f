/**
 * `trackingConfirmedAgo` (and so `cache_tracking_confirmed_age_seconds`) under a step of the
 * host's wall clock. Found from outside (/tmp/clocks2/a-age.mts): it was `Date.now() -
 * confirmedAt`, so a wall clock stepped forward 1 h showed a confirmation 3,600 s old (an alert on
 * the age fires against healthy tracking) and stepped back showed 0 until the next heartbeat. The
 * Redis tracker now gives its age on the monotonic clock (`confirmedAgo`); `confirmedAt` stays the
 * wall-clock timestamp it is documented as.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('tiered cache + tracking: a step of the wall clock', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('does not show as the age of the last confirmation (stepped forward or back 1 h)', async () => {
    const realNow = Date.now;
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'step:' });
    // A heartbeat far off: no confirmation comes between the steps and the reads of the age.
    const tracking = createRedisTracking({ cache: l2, heartbeat: 600_000 });
    const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, tracking });
    try {
      await cache.ready;
      const confirmedAt = tracking.confirmedAt;
      assert.ok(Math.abs(confirmedAt - realNow()) < 600_000, 'confirmedAt is a wall-clock timestamp');
      for (const step of [3_600_000, -3_600_000]) {
        Date.now = () => realNow() + step;
        const age = cache.stats().trackingConfirmedAgo;
        // Only the time since the confirmation (well under the 1 h step either way).
        assert.ok(age >= 0 && age < 600_000, `stepped ${step} ms: age ${age} ms`);
        assert.equal(tracking.confirmedAt, confirmedAt, 'the timestamp itself is not moved');
      }
    } finally {
      Date.now = realNow;
      await cache.close();
      await tracking.close();
      await l2.close();
    }
  });
});
