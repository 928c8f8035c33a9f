/**
 * A sentinel's own port given as the server (`addresses: ['host:26379']` for 6379, mode standalone):
 * it answers PING and ROLE, but every command of the cache fails there ("unknown command").
 * health() read it as a replica — `degraded: true` ("reads work") and "every write fails with
 * READONLY" — while no read worked either. It now says the server is a sentinel, not degraded.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, freePort } from '../../harness/process.js';
import { type RedisLoneSentinel, skipRedis, startLoneSentinel } from '../../harness/redis.js';
import { rejectsWith, watchUnhandled } from './helpers.js';

describeWithServers('a sentinel given as the server', skipRedis(), () => {
  let sentinel: RedisLoneSentinel;
  const unhandled = watchUnhandled();
  before(async () => {
    // The master it monitors is never reached (a port kept closed): only its answers matter.
    sentinel = await startLoneSentinel({ masters: { mymaster: await freePort() } });
  });
  after(async () => {
    await sentinel?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('health() says the server is a sentinel: not ok, not degraded', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${sentinel.port}`], commandTimeout: 2000 });
    try {
      const err = await rejectsWith(cache.get('k'), 'backend');
      assert.match(err.message, /unknown command/);
      const h = await cache.health();
      assert.equal(h.ok, false);
      assert.equal(h.degraded, undefined, 'reads do not work on a sentinel');
      assert.equal(h.role, 'sentinel');
      assert.match(h.error ?? '', /is a Redis Sentinel \(ROLE sentinel\), not a data server/);
      assert.match(h.error ?? '', /mode 'sentinel'/);
      assert.doesNotMatch(h.error ?? '', /READONLY/);
    } finally {
      await cache.close();
    }
  });
});
