/**
 * `health()` of a master whose writes are held back (`CLIENT PAUSE <ms> WRITE`, what FAILOVER and
 * a cluster's manual failover do for a while): PING, ROLE and reads answer at once while every
 * write times out. health() used to say ok; now a write probe on a connection of its own sees it.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisStandalone,
  redisCommand,
  skipRedis,
  startRedis,
  startRedisCluster,
} from '../../harness/redis.js';
import { dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

describeWithServers('redis health: writes paused (standalone)', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  const unhandled = watchUnhandled();

  before(async () => {
    redis = await startRedis();
    cache = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      commandTimeout: 500,
      keyPrefix: 'paused:',
    });
  });
  after(async () => {
    await redisCommand(redis.port, ['CLIENT', 'UNPAUSE'], {}).catch(() => {});
    await cache?.close();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('is degraded while writes are paused, reads keep working, and ok again after CLIENT UNPAUSE', async () => {
    await cache.set('k', enc('v1'));
    const before = await cache.health();
    assert.equal(before.ok, true, before.error);

    await redisCommand(redis.port, ['CLIENT', 'PAUSE', '20000', 'WRITE'], {});
    try {
      const h = await cache.health();
      assert.equal(h.ok, false, 'every write times out: not ok');
      assert.equal(h.degraded, true, 'but the server answers');
      assert.equal(h.role, 'master');
      assert.match(h.error ?? '', /writes are held back on 127\.0\.0\.1:\d+/);
      // The probe's paused command is on a connection of its own: the cache's reads still answer.
      assert.equal(dec(await cache.get('k')), 'v1');
      const again = await cache.health();
      assert.equal(again.degraded, true, again.error);
    } finally {
      await redisCommand(redis.port, ['CLIENT', 'UNPAUSE'], {});
    }
    const h = await cache.health();
    assert.equal(h.ok, true, h.error);
    await cache.set('k', enc('v2'));
    assert.equal(dec(await cache.get('k')), 'v2');
  });

  it('the writes the health check describes do time out', async () => {
    await redisCommand(redis.port, ['CLIENT', 'PAUSE', '20000', 'WRITE'], {});
    try {
      await rejectsWith(cache.set('k', enc('v3')), 'timeout');
    } finally {
      await redisCommand(redis.port, ['CLIENT', 'UNPAUSE'], {});
    }
  });
});

describeWithServers('redis health: a cluster master with writes paused', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  const unhandled = watchUnhandled();

  before(async () => {
    cluster = await startRedisCluster({});
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      commandTimeout: 500,
      keyPrefix: 'paused:',
    });
  });
  after(async () => {
    for (const m of cluster?.masters ?? [])
      await redisCommand(m.port, ['CLIENT', 'UNPAUSE'], {}).catch(() => {});
    await cache?.close();
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('is degraded naming the paused master, and ok again after CLIENT UNPAUSE', async () => {
    await cache.set('first', enc('v'));
    const before = await cache.health();
    assert.equal(before.ok, true, before.error);
    const m = cluster.masters[1]!;
    await redisCommand(m.port, ['CLIENT', 'PAUSE', '20000', 'WRITE'], {});
    try {
      const h = await cache.health();
      assert.equal(h.ok, false, 'writes on its slots time out: not ok');
      assert.equal(h.degraded, true, h.error);
      assert.match(h.error ?? '', new RegExp(`writes are held back on 127\\.0\\.0\\.1:${m.port}\\b`));
      assert.doesNotMatch(
        h.error ?? '',
        new RegExp(`held back on 127\\.0\\.0\\.1:${cluster.masters[0]!.port}\\b`),
      );
    } finally {
      await redisCommand(m.port, ['CLIENT', 'UNPAUSE'], {});
    }
    const h = await cache.health();
    assert.equal(h.ok, true, h.error);
  });
});
