/**
 * The server's script cache emptied under a live connection (`SCRIPT FLUSH` by another program or
 * an operator): every guarded SET and delete is an EVALSHA (./deadline.ts), which Redis then
 * answers `NOSCRIPT`. iovalkey resent such a command as an EVAL once that reply came back — after
 * the commands sent behind it on the same connection had run. So a write landed after later
 * commands of the same caller: a pipeline `set(k, new)`, `get(k)`, `delete(k)` resolved with the
 * set applied, its get reading the old value and the delete done, and `k` then held `new` — the
 * delete lost; likewise a `set` then a `delete` called back to back. Now a command answered
 * `NOSCRIPT` is resent only when nothing sent after it on the connection is still unanswered (the
 * resend then keeps its place); otherwise it fails (`unavailable`, not applied) and the next one
 * reloads the script on that connection.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import type { RedisPartialRead } from '../../../lib/cache/redis/many.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

describeWithServers('redis cache: script cache flushed under a live connection', skipRedis(), () => {
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

  const open = (prefix: string) =>
    createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix, commandTimeout: 1000 });

  it('a pipeline keeps its order: no write lands after the commands queued behind it', async () => {
    const cache = open('sf1:');
    try {
      await cache.set('c', enc('old')); // the SET script is now loaded on the connection
      await redisCommand(redis.port, ['SCRIPT', 'FLUSH']);
      let results: readonly unknown[];
      try {
        results = await cache.pipeline().set('c', enc('new')).get('c').delete('c').get('c').exec();
      } catch (err) {
        assert.ok(err instanceof CacheError, String(err));
        assert.equal(err.code, 'unavailable', err.message);
        assert.match(err.message, /NOSCRIPT|script cache/);
        const partial = (err as CacheError & { partial?: RedisPartialRead<unknown> }).partial;
        assert.ok(partial, 'the answered commands go with the error');
        results = partial.values;
      }
      // A set reported applied was applied before the get queued after it.
      if (results[0] === true) assert.equal(dec(results[1] as Uint8Array), 'new');
      // The delete came last and was applied: nothing may be left behind it.
      assert.equal(results[2], true);
      assert.equal(results[3], undefined);
      assert.equal(await redisCommand(redis.port, ['GET', 'sf1:c']), null);
      assert.equal(await cache.get('c'), undefined);
      // The next writes reload the script and succeed.
      await cache.set('c', enc('again'));
      assert.equal(dec(await cache.get('c')), 'again');
      await cache.setMany([{ key: 'm', value: enc('M') }]);
      assert.equal(dec(await cache.get('m')), 'M');
    } finally {
      await cache.close();
    }
  });

  it('a set then a delete called back to back leave the key deleted', async () => {
    const cache = open('sf2:');
    try {
      await cache.set('k', enc('old'));
      await redisCommand(redis.port, ['SCRIPT', 'FLUSH']);
      const set = cache.set('k', enc('new')).then(
        (stored) => ({ stored }),
        (err: unknown) => ({ err }),
      );
      const deleted = await cache.delete('k');
      const s = await set;
      if ('err' in s) {
        assert.ok(s.err instanceof CacheError, String(s.err));
        assert.equal(s.err.code, 'unavailable', s.err.message);
      }
      assert.equal(deleted, true);
      assert.equal(await redisCommand(redis.port, ['GET', 'sf2:k']), null, 'the delete was overtaken');
      assert.equal(await cache.get('k'), undefined);
      assert.equal(await cache.set('k', enc('next')), true);
      assert.equal(dec(await cache.get('k')), 'next');
    } finally {
      await cache.close();
    }
  });

  it('a write alone on the connection is resent and succeeds', async () => {
    const cache = open('sf3:');
    try {
      await cache.set('k', enc('old'));
      await cache.delete('gone');
      await redisCommand(redis.port, ['SCRIPT', 'FLUSH']);
      assert.equal(await cache.set('k', enc('new')), true);
      assert.equal(String(await redisCommand(redis.port, ['GET', 'sf3:k'])), 'new');
      await redisCommand(redis.port, ['SCRIPT', 'FLUSH']);
      assert.equal(await cache.delete('k'), true);
      assert.equal(await redisCommand(redis.port, ['GET', 'sf3:k']), null);
      assert.equal(cache.stats().errors, 0);
    } finally {
      await cache.close();
    }
  });
});
