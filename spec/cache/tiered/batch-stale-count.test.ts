/**
 * `staleServes` over a `getOrSetMany` whose `loadMany` fails during an L2 outage (Redis behind a
 * proxy that drops every command). Found from outside: the call rejected (one key had no copy
 * inside grace) and still counted a stale serve for the key that had one, although the caller got
 * no value. Now a stale serve is counted when a call returns it: the rejected batch counts misses
 * only, a `getOrSet` that joined it for the stale key gets the value and counts its own serve.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { manualClock, tick } from '../../harness/clock.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const bytes = (s: string) => Buffer.from(s);
const failing = async (): Promise<never> => {
  throw new Error('db down');
};

describe('tiered cache: stale serves of a failing getOrSetMany during an L2 outage', {
  skip: skipRedis(),
}, () => {
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

  function setup(prefix: string) {
    const clock = manualClock();
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: prefix,
      commandTimeout: 2000,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      l2Timeout: 150,
      grace: 60_000,
      breaker: { failures: 1, cooldown: 60_000 },
      now: clock.now,
    });
    return { clock, cache };
  }

  it('a rejected batch counts no stale serve; a joined getOrSet gets the stale value and counts one', async () => {
    const { clock, cache } = setup('bsc1:');
    try {
      await cache.getOrSet('a', async () => bytes('va'), 1000);
      clock.advance(2000); // past the TTL, inside grace
      proxy.dropping = true;
      const before = cache.stats();
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const batch = cache.getOrSetMany(['a', 'b'], async () => {
        await gate;
        throw new Error('db down');
      });
      // The batch has registered its flights once its L1 read is done (its L2 read then waits out
      // l2Timeout): this call joins the flight of 'a', its own loader not called.
      await tick();
      let own = 0;
      const joined = cache.getOrSetWithMeta(
        'a',
        async () => {
          own++;
          throw new Error('db down');
        },
        1000,
      );
      release();
      await assert.rejects(batch, /db down/);
      const single = await joined;
      assert.deepEqual(
        { v: Buffer.from(single.value).toString(), source: single.source },
        { v: 'va', source: 'stale' },
      );
      const s = cache.stats();
      assert.equal(s.staleServes - before.staleServes, 1, 'only the getOrSet that got the stale value');
      assert.equal(s.misses - before.misses, 3, "the batch's two keys and the joined read");
      assert.equal(s.loaderErrors - before.loaderErrors, 1);
      assert.equal(s.loaderCalls - before.loaderCalls, 1);
      assert.equal(own, 0);
    } finally {
      proxy.dropping = false;
      await cache.close();
    }
  });

  it('a batch that resolves with stale values counts each key it served stale', async () => {
    const { clock, cache } = setup('bsc2:');
    try {
      await cache.getOrSetMany(['a', 'b'], async (keys) => keys.map((k) => bytes(`v${k}`)), 1000);
      clock.advance(2000);
      proxy.dropping = true;
      const before = cache.stats();
      const values = await cache.getOrSetMany(['a', 'b', 'a'], failing, 1000);
      assert.deepEqual(
        values.map((v) => Buffer.from(v).toString()),
        ['va', 'vb', 'va'],
      );
      const s = cache.stats();
      assert.equal(s.staleServes - before.staleServes, 3);
      assert.equal(s.misses - before.misses, 3);
    } finally {
      proxy.dropping = false;
      await cache.close();
    }
  });
});
