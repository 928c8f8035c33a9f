/**
 * A sentinel with a stale view names a replica as the master (found from outside, /tmp probe):
 * iovalkey's role check drops that connection and asks the next sentinel without an 'error'
 * event, so with only such sentinels every command failed with a bare `not connected within … ms`
 * and nothing was logged. Now the refusal says which server answered as what; with a sound
 * sentinel after the stale one the cache reaches the real master as before.
 *
 * Lone sentinels over a primary and its replica, the sound one started only for the second case:
 * sentinels that share an instance learn of each other through its hello channel, and iovalkey
 * then asks the sound ones too (a full sentinel set made the first case pass by luck at times).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import {
  type RedisLoneSentinel,
  type RedisStandalone,
  redisCommand,
  skipRedis,
  startLoneSentinel,
  startRedis,
} from '../../harness/redis.js';
import { dec, enc, sleep, watchUnhandled } from './helpers.js';

describeWithServers('a sentinel naming a replica as the master', skipRedis(), () => {
  let primary: RedisStandalone;
  let replica: RedisStandalone;
  let stale: RedisLoneSentinel;
  const unhandled = watchUnhandled();
  before(async () => {
    primary = await startRedis();
    replica = await startRedis({ extraConfig: [`replicaof ${primary.host} ${primary.port}`] });
    await waitFor(
      async () => /role:slave/.test(String(await redisCommand(replica.port, ['INFO', 'replication']))),
      {
        timeoutMs: 10_000,
        what: 'the replica',
      },
    );
    stale = await startLoneSentinel({ masters: { mymaster: replica.port } });
  });
  after(async () => {
    unhandled.dispose();
    await stale?.stop();
    await replica?.stop();
    await primary?.stop();
  });
  const cacheVia = (sentinels: readonly { host: string; port: number }[], commandTimeout = 500) =>
    createRedisCache({
      mode: 'sentinel',
      sentinel: { masterName: 'mymaster', sentinelAddresses: sentinels.map((s) => `${s.host}:${s.port}`) },
      commandTimeout,
    });

  it('only that sentinel: commands fail saying the named server is a replica', async () => {
    const cache = cacheVia([stale]);
    try {
      // Bounded: a first wait that ran out before any lookup finished (a loaded machine) has no
      // reason yet; the next ones have.
      const messages: string[] = [];
      for (let i = 0; i < 5 && !messages.some((m) => /answers as a replica/.test(m)); i++) {
        const err = await cache.get('k').then(
          () => assert.fail('get succeeded through a replica'),
          (e: unknown) => e as Error & { code?: string },
        );
        assert.equal(err.code, 'unavailable');
        messages.push(err.message);
        await sleep(100);
      }
      const named = messages.find((m) => /answers as a replica/.test(m));
      assert.ok(named, messages.join('\n'));
      assert.match(named, new RegExp(`\\(127\\.0\\.0\\.1:${replica.port}\\) answers as a replica`));
      const h = await cache.health();
      assert.equal(h.ok, false);
      assert.match(h.error ?? '', /answers as a replica/);
    } finally {
      await cache.close();
    }
    unhandled.check();
  });

  it('a sound sentinel after it: the cache reaches the master', async () => {
    const sound = await startLoneSentinel({ masters: { mymaster: primary.port } });
    // Every call must succeed here: 500 ms was passed by the first set (connect through two
    // sentinels, then the write) under event-loop stalls of a loaded machine.
    const cache = cacheVia([stale, sound], 3000);
    try {
      await cache.set('k', enc('v'));
      assert.equal(dec(await cache.get('k')), 'v');
      const h = await cache.health();
      assert.equal(h.ok, true, h.error);
      assert.equal(h.nodes[0]?.address, `127.0.0.1:${primary.port}`);
    } finally {
      await cache.close();
      await sound.stop();
    }
    unhandled.check();
  });
});
