/**
 * A getOrSet miss with a lease waits for L2 at most one `l2Timeout`, the lease acquire included.
 * Found from outside (each command to Redis delayed 280 ms by a proxy, `l2Timeout` 300): the read
 * answered after ~280 ms, then the lease acquire had an `l2Timeout` of its own and took another
 * ~280 ms, so the loader was called after 566 ms. Now the acquire gets what the read left: here it
 * runs out before Redis answers, the lease is not taken (warned) and the loader is called while the
 * SET is still on its way; the lease granted later is released.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisLease } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describe('tiered cache: the lease acquire within the miss L2 budget', { skip: skipRedis() }, () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  it('gets only what the read left of l2Timeout: the loader is not held until the lease answers', async () => {
    const warnings: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (msg: string, fields?: Record<string, unknown>) => {
        warnings.push({ msg, fields });
      },
    };
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: 'lb:',
      commandTimeout: 3000,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      l2Timeout: 600,
      breaker: false,
      lease: createRedisLease({ client: l2.client }),
      logger,
    });
    const leaseKey = 'hyperion:lease:lb:k';
    try {
      await cache.get('warm');
      // Each command reaches Redis 400 ms late: the read answers after ~400 ms, which leaves the
      // acquire ~200 ms — less than its SET takes to arrive.
      proxy.delay = 400;
      let leaseWhileLoading: unknown = 'loader not called';
      const value = await cache.getOrSet('k', async () => {
        leaseWhileLoading = await redisCommand(redis.port, ['EXISTS', leaseKey]);
        return Buffer.from('v');
      });
      assert.equal(Buffer.from(value).toString(), 'v');
      assert.equal(leaseWhileLoading, 0, 'the loader ran before the lease was granted');
      const warned = warnings.find((w) => w.msg === 'tiered cache: loader lease not taken, loading locally');
      assert.ok(warned, JSON.stringify(warnings));
      assert.match(String(warned.fields?.error), /what the read left of l2Timeout/);
      proxy.delay = 0;
      // The SET lands late and its lease is released behind it, not left held by nobody.
      let held: unknown = 1;
      for (let i = 0; i < 100 && held !== 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        held = await redisCommand(redis.port, ['EXISTS', leaseKey]);
      }
      assert.equal(held, 0, 'the late lease was released');
    } finally {
      proxy.delay = 0;
      await cache.close();
    }
  });
});
