/**
 * Server-assisted invalidation through sentinel across a manual `SENTINEL FAILOVER` (tiered
 * audit 2; only a master kill was tested before). Seen from outside: the L2 connection moved to the
 * new master at once, but the tracking subscriber was still connected to the old master, which a
 * manual failover leaves up; `CLIENT TRACKING ON REDIRECT <its id>` on the new master then failed
 * ("The client ID you want redirect to does not exist") before the run_id check could replace the
 * subscriber, and every retry failed the same way: L1 was bypassed for ~10.5 s (every read a Redis
 * round trip) until the old master dropped that subscriber. Now a subscriber on another server is
 * replaced at the first attempt and tracking is confirmed again ~0.1 s after the reconnect.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import {
  type RedisSentinelSet,
  redisCommand,
  sentinelMaster,
  skipRedis,
  startRedisSentinel,
  waitForReplicas,
} from '../../harness/redis.js';
import { holdInL1, outsideOnce, text } from './tracking-helpers.js';

const PASSWORD = 'sentinel-pass';
const PREFIX = 'tsf:';

describeWithServers(
  'tiered cache with CLIENT TRACKING across a manual SENTINEL FAILOVER',
  skipRedis(),
  () => {
    let set: RedisSentinelSet;
    let l2: RedisCache;
    let cache: TieredCache;
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);

    before(async () => {
      process.on('unhandledRejection', onUnhandled);
      set = await startRedisSentinel({ password: PASSWORD });
      l2 = createRedisCache({
        mode: 'sentinel',
        sentinel: {
          masterName: set.masterName,
          sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
        },
        password: PASSWORD,
        commandTimeout: 500,
        keyPrefix: PREFIX,
      });
      cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        tracking: createRedisTracking({ cache: l2, heartbeat: 200 }),
        l1Ttl: 60_000,
        breaker: false,
      });
      await cache.ready;
    });
    after(async () => {
      process.off('unhandledRejection', onUnhandled);
      await cache?.close().catch(() => {});
      await set?.stop();
    });

    it('tracking is confirmed on the new master within 3 s of the loss (was ~10.5 s); its writes reach L1', async () => {
      await cache.set('f', Buffer.from('v1'), 60_000);
      assert.equal(await holdInL1(cache, 'f'), 'v1');
      // Redis replicates asynchronously and SENTINEL FAILOVER does not wait for the replica: a write
      // it has not received is lost with the promotion (see the redis README). This test is about
      // tracking, so f must be on the replica before the failover.
      assert.equal(await waitForReplicas(set.master.port, { password: PASSWORD }), 1);
      const losses = cache.stats().trackingLosses;
      const sentinelPort = set.sentinels[0]!.port;
      assert.equal(await redisCommand(sentinelPort, ['SENTINEL', 'FAILOVER', set.masterName]), 'OK');
      const failoverAt = performance.now();
      await waitFor(() => cache.stats().trackingLosses > losses, {
        timeoutMs: 10_000,
        what: 'the move to the new master to be noticed',
      });
      const lostAt = performance.now();
      // While unconfirmed, no read is answered by L1.
      while (cache.stats().trackingConfirmed === 0) {
        const r = await cache.getWithMeta('f').catch(() => undefined);
        if (r) assert.notEqual(r.source, 'l1', 'L1 answered while tracking was not confirmed');
        assert.ok(
          performance.now() - lostAt < 3_000,
          'tracking was not confirmed within 3 s of the loss (before the fix: ~10.5 s, every set-up refused)',
        );
        await new Promise((r) => setTimeout(r, 5));
      }
      const confirmedAt = performance.now();
      const master = await sentinelMaster(sentinelPort, set.masterName);
      assert.ok(master && master.port === set.replica.port, 'the replica was promoted');

      // The value is held in L1 again, from the new master; an outside write there reaches L1.
      assert.equal(await holdInL1(cache, 'f'), 'v1');
      assert.equal(await outsideOnce(master.port, ['SET', `${PREFIX}f`, 'v2'], PASSWORD), 'OK');
      await waitFor(async () => text(await cache.get('f')) === 'v2', {
        timeoutMs: 1000,
        what: 'the outside write on the new master to reach L1',
      });
      assert.equal(await holdInL1(cache, 'f'), 'v2');
      assert.deepEqual(unhandled, [], 'no unhandled rejection');
      console.log(
        `# manual SENTINEL FAILOVER: loss noticed ${(lostAt - failoverAt).toFixed(0)} ms after the command, tracking confirmed again ${(confirmedAt - lostAt).toFixed(0)} ms after the loss`,
      );
    });
  },
);
