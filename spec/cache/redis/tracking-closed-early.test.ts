/**
 * Server-assisted tracking closed while its set-up runs: a test's app closed right after it was
 * built, a config reload soon after a start. Found from outside (/tmp/D11/r2.ts, a tiered cache
 * with `invalidation: { mode: tracking }` from createAppFromConfig, closed 0-20 ms after the
 * build): about one close in three logged "redis tracking: set-up failed, retrying" with
 * "Connection is closed." — the set-up's commands cut by the close, after which nothing retries.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('redis tracking closed during its set-up', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('logs no set-up failure made by the close', async () => {
    const warnings: string[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn(message, fields) {
        warnings.push(`${message} ${String(fields?.error ?? '')}`);
      },
      error() {},
      child: () => logger,
    };
    for (let i = 0; i < 24; i++) {
      const l2 = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], password: redis.password });
      const tracking = createRedisTracking({ cache: l2, logger });
      const tiered = createTieredCache({ l1: createMemoryCache({ maxCost: 100 }), l2, tracking });
      tiered.ready.catch(() => {}); // rejected with 'closed' when closed before confirmation
      await new Promise((resolve) => setTimeout(resolve, i % 4));
      await tiered.close();
      await tracking.close();
      await l2.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      warnings.filter((w) => w.includes('redis tracking: set-up failed')),
      [],
    );
  });
});
