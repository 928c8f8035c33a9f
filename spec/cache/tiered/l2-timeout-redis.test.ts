/**
 * `l2Timeout` over a Redis L2 is at least 10 ms, as the Redis cache's own `commandTimeout`: every
 * L2 write gets `l2Timeout` as its budget, and a Redis write carries a server-side deadline at
 * least 5 ms (plus the clock measurement's error) before that budget ends. With `l2Timeout: 5` the
 * deadline lay before the call: every `set` rejected with `timeout` against a healthy loopback
 * server ("reached Redis after its deadline"), loads never landed in L2, and the breaker opened —
 * while the factory and the config file took the value.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { MIN_COMMAND_TIMEOUT_MS } from '../../../lib/cache/redis/options.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { MIN_REDIS_L2_TIMEOUT_MS } from '../../../lib/cache/tiered/options.js';
import { loadConfigFromText } from '../../../lib/config/index.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('tiered cache: l2Timeout over a Redis L2', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  it('below 10 ms is a ConfigError naming l2Timeout (every write was refused); 10 ms is taken', async () => {
    assert.equal(MIN_REDIS_L2_TIMEOUT_MS, MIN_COMMAND_TIMEOUT_MS);
    for (const l2Timeout of [1, 5, 9.5]) {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`] });
      try {
        assert.throws(
          () => createTieredCache({ l1: createMemoryCache({ maxCost: 1000 }), l2, l2Timeout }),
          (e: unknown) =>
            e instanceof ConfigError &&
            e.issues.length === 1 &&
            e.issues[0]!.path === 'l2Timeout' &&
            e.issues[0]!.received === String(l2Timeout),
          String(l2Timeout),
        );
      } finally {
        await l2.close();
      }
    }
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`] });
    await createTieredCache({ l1: createMemoryCache({ maxCost: 1000 }), l2, l2Timeout: 10 }).close();
  });

  it('any positive l2Timeout stays accepted over another L2', async () => {
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1000 }),
      l2: createMemoryCache({ maxCost: 1000 }),
      l2Timeout: 5,
    });
    assert.equal(await cache.set('k', Buffer.from('v')), true);
    await cache.close();
  });

  it('a config file says so at cache.l2_timeout when l2 is redis, not when it is memory', () => {
    const text = (l2: string) =>
      `cache: {type: tiered, l2_timeout: 5ms, l1: {type: memory, max_cost: 100}, l2: ${l2}}`;
    assert.throws(
      () => loadConfigFromText(text('{type: redis, addresses: ["127.0.0.1:6379"]}'), { env: {} }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues.length === 1 &&
        e.issues[0]!.path === 'cache.l2_timeout' &&
        /at least 10 ms/.test(e.issues[0]!.expected),
    );
    const config = loadConfigFromText(text('{type: memory, max_cost: 100}'), { env: {} });
    assert.equal((config.cache as { l2_timeout?: number }).l2_timeout, 5);
    // 10 ms over Redis loads.
    loadConfigFromText(
      'cache: {type: tiered, l2_timeout: 10ms, l1: {type: memory, max_cost: 100}, l2: {type: redis}}',
      { env: {} },
    );
  });
});
