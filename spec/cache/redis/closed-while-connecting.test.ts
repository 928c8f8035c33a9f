/**
 * A Redis cache closed while its client is still connecting: a test's app closed right after it
 * was built, a config reload soon after a start. Found from outside (/tmp/D11/r3.ts): about one
 * such close in two logged "redis connection error … Stream isn't writeable and enableOfflineQueue
 * options is false" — the failure of the connection's own ready check, cut by the close's
 * disconnect — after the cache was closed. Its errors are the close's own from then on: not logged.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('redis cache closed while it connects', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('logs no connection error made by its own close', async () => {
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
      const cache = createRedisCache({
        addresses: [`${redis.host}:${redis.port}`],
        password: redis.password,
        logger,
      });
      await new Promise((resolve) => setTimeout(resolve, i % 2));
      await cache.close();
    }
    // A late error event would come within a few turns of the disconnect.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      warnings.filter((w) => w.includes('redis connection error')),
      [],
    );
  });
});
