/**
 * A server up but still loading its data (a restart with a large RDB/AOF, a full resync): found
 * from outside (/tmp probe: a server restarted with 200,000 keys and a slowed load). iovalkey's
 * ready check sees `loading:1` and waits, so no 'ready' comes and every caller fails with
 * `unavailable` "not connected within … ms" — followed by the last connection error (`connect
 * ECONNREFUSED` from the restart, which said the server was down) or by nothing at all for a
 * cache created during the load, and `health()` said the same. Both now say the server is loading.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { rejectsWith, sleep } from './helpers.js';

describe('a server still loading its data', { skip: skipRedis() }, () => {
  let redis: RedisStandalone | undefined;
  before(async () => {
    // The load is slowed (40 µs a key) and answers INFO often, as a large dataset's load does.
    redis = await startRedis({
      extraConfig: [
        'enable-debug-command yes',
        'key-load-delay 40',
        'loading-process-events-interval-bytes 1024',
      ],
    });
  });
  after(async () => {
    await redis?.server.kill(); // no waiting for the load to end
    await redis?.stop();
  });

  it('fails unavailable saying the server is loading, and health() says so', async () => {
    const server = redis!;
    await redisCommand(server.port, ['DEBUG', 'POPULATE', 100_000, 'pop', 10], {});
    // DEBUG RELOAD saves and loads the data again; its own connection waits for the load.
    const reloader = new Redis({
      host: server.host,
      port: server.port,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    reloader.on('error', () => {});
    let cache: ReturnType<typeof createRedisCache> | undefined;
    try {
      await reloader.connect();
      reloader.debug('RELOAD').catch(() => {});
      let loading = false;
      for (let i = 0; i < 50 && !loading; i++) {
        const info = await redisCommand(server.port, ['INFO', 'persistence'], {}).catch(() => '');
        loading = /^loading:1/m.test(String(info));
        if (!loading) await sleep(20);
      }
      assert.ok(loading, 'the server did not start loading');
      // Connecting now, as after a restart: the connection is up, its ready check waits.
      cache = createRedisCache({ addresses: [`${server.host}:${server.port}`], commandTimeout: 1000 });
      const err = await rejectsWith(cache.get('k'), 'unavailable');
      assert.match(err.message, /still loading its data into memory/);
      const health = await cache.health();
      assert.equal(health.ok, false);
      assert.match(String(health.error), /still loading its data into memory/);
    } finally {
      await cache?.close();
      reloader.disconnect();
    }
  });
});
