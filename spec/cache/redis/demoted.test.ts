/**
 * A standalone cache whose server became a replica (`REPLICAOF`, or a master demoted behind a
 * DNS name): reads answer, writes get READONLY. Found from outside:
 * - the write failed with "Stream isn't writeable and enableOfflineQueue options is false"
 *   (iovalkey resent it at once on the connection it was closing to reconnect), not READONLY;
 * - a read issued right after it failed with the same message (the client still said 'ready'
 *   while its socket was closing), and so did a health() then;
 * - once reconnected, health() said ok: true (role "slave") while every write failed.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { enc, rejectsWith, watchUnhandled } from './helpers.js';

describeWithServers('redis cache on a server that became a replica', skipRedis(), () => {
  let server: RedisStandalone;
  let master: RedisStandalone;
  let cache: RedisCache;
  const unhandled = watchUnhandled();

  before(async () => {
    [server, master] = await Promise.all([startRedis(), startRedis()]);
    cache = createRedisCache({ addresses: [`${server.host}:${server.port}`], commandTimeout: 2000 });
    assert.equal(await cache.set('k', enc('v')), true);
    await redisCommand(server.port, ['REPLICAOF', master.host, String(master.port)]);
    await redisCommand(master.port, ['SET', 'k', 'from-master']);
    await waitFor(async () => String(await redisCommand(server.port, ['GET', 'k'])) === 'from-master', {
      timeoutMs: 10_000,
      what: 'the replica synced',
    });
  });
  after(async () => {
    await cache?.close();
    await Promise.allSettled([server?.stop(), master?.stop()]);
    unhandled.check();
    unhandled.dispose();
  });

  it('a write fails with READONLY (unavailable), and a read right after it answers', async () => {
    for (let i = 0; i < 3; i++) {
      const err = await rejectsWith(cache.set('k', enc(`w${i}`)), 'unavailable');
      assert.match(err.message, /READONLY/);
      assert.doesNotMatch(err.message, /Stream isn't writeable/);
      const value = await cache.get('k');
      assert.equal(Buffer.from(value ?? []).toString(), 'from-master');
    }
  });

  it('health() is not ok: it names the replica role (degraded: reads still answer)', async () => {
    await rejectsWith(cache.set('k', enc('x')), 'unavailable');
    const h = await cache.health();
    assert.doesNotMatch(String(h.error), /Stream isn't writeable/);
    // Right after the refused write the client may still be reconnecting: ask until it answers.
    await waitFor(async () => (await cache.health()).nodes.length > 0, {
      timeoutMs: 5000,
      what: 'health() reached the server',
    });
    const settled = await cache.health();
    assert.equal(settled.ok, false);
    assert.equal(settled.degraded, true);
    assert.equal(settled.nodes[0]?.role, 'replica');
    assert.match(String(settled.error), /is a replica .*every write fails with READONLY/);
  });

  it('once promoted again, writes succeed and health() is ok', async () => {
    await redisCommand(server.port, ['REPLICAOF', 'NO', 'ONE']);
    assert.equal(await cache.set('k', enc('again')), true);
    const h = await cache.health();
    assert.equal(h.ok, true, h.error);
  });
});
