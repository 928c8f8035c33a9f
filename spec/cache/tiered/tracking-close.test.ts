/**
 * A tiered cache with CLIENT TRACKING closed while the tracker is still setting up (its subscriber
 * connection being opened): nothing of the tracker stays connected to the server. (Before, the
 * subscriber a set-up opened after `close()` stayed connected for good.)
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('tiered cache with CLIENT TRACKING closed during set-up', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  const trackingConnections = async () =>
    (String(await redisCommand(redis.port, ['CLIENT', 'LIST'])).match(/name=\S*:tracking/g) ?? []).length;

  it('closed 0–5 ms after creation: no tracking subscriber is left connected', async () => {
    for (const delay of [0, 1, 2, 3, 5]) {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `c${delay}:` });
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        tracking: createRedisTracking({ cache: l2 }),
      });
      cache.ready.catch(() => {});
      await new Promise((r) => setTimeout(r, delay));
      await cache.close();
      // A set-up in flight finishes within its step timeout (1 s), then must let go.
      await waitFor(async () => (await trackingConnections()) === 0, {
        timeoutMs: 3000,
        what: `no tracking subscriber left (closed after ${delay} ms)`,
      });
    }
    assert.equal(await trackingConnections(), 0);
  });
});
