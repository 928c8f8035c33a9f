/**
 * `db` beyond the server's databases (the `databases` option raised to let it pass the config
 * check, or the server configured with fewer than assumed): iovalkey's SELECT on connect is
 * refused, iovalkey only emits the error and goes on in db 0. Found from outside: with `db: 20,
 * databases: 32` against a default server, set and get succeeded, health() said ok, and the key
 * was in db 0 — another application's namespace, silently. Now the connection is closed and
 * every command fails with `unavailable` naming the refused SELECT; nothing reaches db 0.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

describeWithServers('redis cache: a db the server refuses to SELECT', skipRedis(), () => {
  let redis: RedisStandalone;
  const unhandled = watchUnhandled();

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('db 20 on a server with 16 databases: every command fails naming SELECT, nothing lands in db 0', async (t) => {
    const cache = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      db: 20,
      databases: 32,
      commandTimeout: 2000,
    });
    t.after(() => cache.close());
    for (const call of [
      () => cache.set('k', enc('v')),
      () => cache.get('k'),
      () => cache.set('k2', enc('v')),
    ]) {
      const err = await rejectsWith(call(), 'unavailable');
      assert.match(err.message, /refused SELECT 20 \(ERR DB index is out of range\)/);
    }
    assert.deepEqual(await redisCommand(redis.port, ['KEYS', '*']), []);
    const h = await cache.health();
    assert.equal(h.ok, false);
    assert.match(String(h.error), /refused SELECT 20/);
  });

  it('a db the server has (3): the keys land there, not in db 0', async (t) => {
    const cache = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], db: 3 });
    t.after(() => cache.close());
    assert.equal(await cache.set('in-3', enc('v')), true);
    assert.equal(dec(await cache.get('in-3')), 'v');
    assert.equal(await redisCommand(redis.port, ['EXISTS', 'in-3']), 0);
    const client = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], db: 3 });
    t.after(() => client.close());
    assert.equal(await client.has('in-3'), true);
  });
});
