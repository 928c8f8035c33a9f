/**
 * `createRedisLease(…).acquire(key)` did not check its key: `acquire(undefined)` (or a number, an
 * object) leased `hyperion:lease:undefined` / `…[object Object]` — unrelated callers contending
 * for one lease — and a key that cannot be made a string (a null-prototype object) threw a raw
 * TypeError. It now checks the key as every cache does (`CacheError('invalid_key')`).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisLease } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('redis loader lease: acquire checks its key', skipRedis(), () => {
  let redis: RedisStandalone;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = new Redis({ host: redis.host, port: redis.port });
  });
  after(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('refuses a key that is not a valid cache key, and leases nothing for it', async () => {
    const lease = createRedisLease({ client });
    for (const key of [undefined, 5, {}, Object.create(null), '', 'a\ud800']) {
      await assert.rejects(
        lease.acquire(key as never),
        (e) => e instanceof CacheError && e.code === 'invalid_key',
        String(typeof key),
      );
    }
    assert.deepEqual(await redisCommand(redis.port, ['KEYS', '*']), []);
    const release = await lease.acquire('user:1');
    assert.equal(typeof release, 'function');
    await release!();
  });
});
