/**
 * A command on the wire when the server went away (found from outside, /tmp probe: a paused
 * server killed with a GET and a SET waiting): iovalkey resends it once, finds no connection, and
 * rejects it with "Reached the max retries per request limit (which is 1). Refer to
 * "maxRetriesPerRequest" option for details" — advice naming an option the cache does not take.
 * The CacheError now says what happened; its code stays `unavailable`, iovalkey's error its cause.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { enc, rejectsWith, sleep, watchUnhandled } from './helpers.js';

describe('a command on the wire when the server goes away', { skip: skipRedis() }, () => {
  let redis: RedisStandalone | undefined;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    unhandled.dispose();
    await redis?.stop();
  });

  it('fails unavailable saying the connection was lost, not naming an iovalkey option', async () => {
    const server = redis!;
    const cache = createRedisCache({ addresses: [`${server.host}:${server.port}`], commandTimeout: 10_000 });
    try {
      // Connected, and the server clock measured (the first SET waits for it).
      await cache.set('warm', enc('w'));
      await redisCommand(server.port, ['CLIENT', 'PAUSE', 30_000, 'ALL'], {});
      const get = cache.get('k');
      const set = cache.set('k', enc('v'));
      get.catch(() => {});
      set.catch(() => {});
      // The connection is ready, so both are written at once; the paused server holds them (it
      // answers nothing, not even CLIENT LIST, so the wait is a plain one).
      await sleep(200);
      await server.server.kill();
      for (const [op, p] of [
        ['get', get],
        ['set', set],
      ] as const) {
        const err = await rejectsWith(p, 'unavailable');
        assert.match(
          err.message,
          new RegExp(
            `^redis ${op} failed \\(\\S+\\): the connection was lost before the reply and could not be made again`,
          ),
        );
        assert.doesNotMatch(err.message, /maxRetriesPerRequest/);
        assert.match(String((err.cause as Error).message), /max retries per request/);
      }
    } finally {
      await cache.close();
    }
    unhandled.check();
  });
});
