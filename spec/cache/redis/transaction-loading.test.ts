/**
 * A transaction that has to open its dedicated connection while the server is still loading its
 * data (a restart with a large RDB/AOF, a full resync, here DEBUG RELOAD). iovalkey's ready check
 * of the new connection sees `loading:1` and waits, so the transaction ran out its budget. Found
 * from outside (/tmp/clocks2/d-loading.mts): it failed with `timeout` "connecting took longer than
 * 1000 ms" and nothing more, where the cache's other paths say the server is loading its data
 * (loading.test.ts). Now `unavailable`, saying so, with the time the server gives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { rejectsWith, sleep } from './helpers.js';

describe('a transaction while the server loads its data', { skip: skipRedis() }, () => {
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

  it('a new dedicated connection fails unavailable saying the server is loading', async () => {
    const server = redis!;
    await redisCommand(server.port, ['DEBUG', 'POPULATE', 100_000, 'pop', 10], {});
    // Connected and used before the load: the transaction's own connection is the first new one.
    const cache = createRedisCache({ addresses: [`${server.host}:${server.port}`], commandTimeout: 1000 });
    const reloader = new Redis({
      host: server.host,
      port: server.port,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    reloader.on('error', () => {});
    try {
      await cache.set('k', Buffer.from('v'));
      await reloader.connect();
      reloader.debug('RELOAD').catch(() => {});
      let loading = false;
      for (let i = 0; i < 50 && !loading; i++) {
        const info = await redisCommand(server.port, ['INFO', 'persistence'], {}).catch(() => '');
        loading = /^loading:1/m.test(String(info));
        if (!loading) await sleep(20);
      }
      assert.ok(loading, 'the server did not start loading');
      const err = await rejectsWith(
        cache.transaction((t) => {
          t.set('k', Buffer.from('tx'));
        }),
        'unavailable',
      );
      assert.match(
        err.message,
        /^redis transaction failed \(\S+\): connecting took longer than \d+ ms: LOADING the server is up but still loading its data into memory \(.*about \d+ s left\)/,
      );
    } finally {
      await cache.close();
      reloader.disconnect();
    }
  });
});
