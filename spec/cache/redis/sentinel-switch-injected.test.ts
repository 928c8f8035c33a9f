/**
 * `sentinel-switch-connect.test.ts` with a client the user made and injected (`client:`): a
 * sentinel-mode iovalkey client with `failoverDetector: true` (as the clients the cache builds
 * have), shared by two caches. The first sentinel is hung (SIGSTOP) while the master is killed, so
 * the client's reconnect attempt is still asking it when `+switch-master` comes. The workaround
 * of ./client.ts (survivesSwitchWhileConnecting) was applied only to clients the cache built: the
 * injected one was ended for good (status `end`, every command `unavailable` "connection ended:
 * Connection is closed."), 2 of 2 runs from outside. Now both caches write again on the promoted
 * replica, and the shared client was wrapped once (two caches over it did not double it).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import {
  type RedisSentinelSet,
  redisCommand,
  sentinelMaster,
  skipRedis,
  startRedisSentinel,
} from '../../harness/redis.js';
import { dec, enc, sleep, watchUnhandled } from './helpers.js';

const PASSWORD = 'switch-injected-pass';

describeWithServers(
  'sentinel: a failover announced while an injected client asks a sentinel',
  skipRedis(),
  () => {
    let set: RedisSentinelSet;
    let client: Redis;
    let caches: RedisCache[] = [];
    const unhandled = watchUnhandled();

    before(async () => {
      set = await startRedisSentinel({ password: PASSWORD });
      client = new Redis({
        sentinels: set.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: set.masterName,
        password: PASSWORD,
        failoverDetector: true,
        // The hung first sentinel holds the client's attempt up to 5 s, longer than the failover
        // takes (~2.5 s); it is resumed before that.
        sentinelCommandTimeout: 5000,
        commandTimeout: 10_000,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
      });
      client.on('error', () => {});
      caches = ['a:', 'b:'].map((keyPrefix) => createRedisCache({ mode: 'sentinel', client, keyPrefix }));
    });
    after(async () => {
      set?.sentinelServers[0]?.child.kill('SIGCONT');
      await Promise.all(caches.map((c) => c.close()));
      client?.disconnect();
      await set?.stop();
      unhandled.check();
      unhandled.dispose();
    });

    it('both caches write again on the promoted replica (the injected client was ended for good)', async () => {
      // Wrapped once, whatever the number of caches: a second wrapper would have been put on the
      // first one's connect (three more tries each, and a lookup error explained twice).
      const connector = (client as unknown as { connector: { connect: unknown } }).connector;
      const wrapped = connector.connect;
      caches.push(createRedisCache({ mode: 'sentinel', client, keyPrefix: 'c:' }));
      assert.equal(connector.connect, wrapped, 'a third cache wrapped the shared client again');

      for (const cache of caches) assert.equal(await cache.set('k', enc('v1')), true);
      const [first, second] = set.sentinelServers;
      first!.child.kill('SIGSTOP');
      try {
        await set.master.kill();
        // The promotion is announced (+switch-master) while the client still waits for the first
        // sentinel's answer.
        await waitFor(
          async () => (await sentinelMaster(second!.port, set.masterName))?.port === set.replica.port,
          { timeoutMs: 15_000, intervalMs: 50, what: 'the replica to be promoted' },
        );
        await sleep(200);
      } finally {
        first!.child.kill('SIGCONT');
      }
      // Bounded: 100 attempts, 10 s.
      let last = '';
      const until = performance.now() + 10_000;
      for (let i = 0; i < 100 && performance.now() < until; i++) {
        last = await caches[0]!.set('k', enc('v2')).then(
          (ok) => String(ok),
          (err: unknown) => String(err),
        );
        if (last === 'true') break;
        await sleep(100);
      }
      assert.equal(last, 'true', `writes never came back (client ${client.status}): ${last}`);
      assert.equal(await caches[1]!.set('k', enc('v2')), true);
      assert.equal(dec(await caches[1]!.get('k')), 'v2');
      for (const prefix of ['a:', 'b:'])
        assert.equal(
          await redisCommand(set.replica.port, ['GET', `${prefix}k`], { password: PASSWORD }),
          'v2',
          `${prefix}k written to the promoted replica`,
        );
    });
  },
);
