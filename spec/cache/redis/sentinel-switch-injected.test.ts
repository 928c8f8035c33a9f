/**
 * `sentinel-switch-connect.test.ts` with clients the user made and injected (`client:`):
 * sentinel-mode iovalkey clients with `failoverDetector: true` (as the clients the cache builds
 * have), one shared by three caches, one under an invalidation bus. The first sentinel is hung
 * (SIGSTOP) while the master is killed, so each client's reconnect attempt is still asking it
 * when `+switch-master` comes. The workaround of ./client.ts (survivesSwitchWhileConnecting) was
 * applied only to clients the cache built: the injected one was ended for good (status `end`,
 * every command `unavailable` "connection ended: Connection is closed."), 2 of 2 runs from
 * outside, and so was a bus over such a client (its subscriber and the client `end`: no
 * invalidation heard again), 2 of 2. Now the caches write again on the promoted replica, the bus
 * hears its messages again, and the shared client was wrapped once (a third cache over it did not
 * stack another wrapper).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import {
  createRedisCache,
  createRedisInvalidationBus,
  type RedisCache,
  type RedisInvalidationBus,
} from '../../../lib/cache/redis/index.js';
import type { Invalidation } from '../../../lib/core/contracts.js';
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

/** Retries `attempt` until it resolves '' (bounded: 100 attempts, 10 s); returns the last result. */
async function retried(attempt: () => Promise<string>): Promise<string> {
  let last = 'not tried';
  const until = performance.now() + 10_000;
  for (let i = 0; i < 100 && performance.now() < until; i++) {
    last = await attempt();
    if (last === '') break;
    await sleep(100);
  }
  return last;
}

describeWithServers(
  'sentinel: a failover announced while injected clients ask a sentinel',
  skipRedis(),
  () => {
    let set: RedisSentinelSet;
    let client: Redis;
    let busClient: Redis;
    let bus: RedisInvalidationBus;
    const heard: Invalidation[] = [];
    const caches: RedisCache[] = [];
    const unhandled = watchUnhandled();

    before(async () => {
      set = await startRedisSentinel({ password: PASSWORD });
      const userClient = () => {
        const made = new Redis({
          sentinels: set.sentinels.map((s) => ({ host: s.host, port: s.port })),
          name: set.masterName,
          password: PASSWORD,
          failoverDetector: true,
          // The hung first sentinel holds an attempt up to 5 s, longer than the failover takes
          // (~2.5 s); it is resumed before that.
          sentinelCommandTimeout: 5000,
          commandTimeout: 10_000,
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
        });
        made.on('error', () => {});
        return made;
      };
      client = userClient();
      for (const keyPrefix of ['a:', 'b:'])
        caches.push(createRedisCache({ mode: 'sentinel', client, keyPrefix }));
      // A bus over a client of its own (no cache over it wraps it).
      busClient = userClient();
      bus = createRedisInvalidationBus({ client: busClient, channel: 'switch-injected' });
      await bus.subscribe(
        (message) => heard.push(message),
        () => {},
      );
    });
    after(async () => {
      set?.sentinelServers[0]?.child.kill('SIGCONT');
      await Promise.all(caches.map((c) => c.close()));
      await bus?.close();
      client?.disconnect();
      busClient?.disconnect();
      await set?.stop();
      unhandled.check();
      unhandled.dispose();
    });

    it('the caches write again and the bus hears again (the injected clients were ended for good)', async () => {
      // Wrapped once, whatever the number of caches: a third cache wrapped the first wrapper again.
      const connector = (client as unknown as { connector: { connect: unknown } }).connector;
      const wrapped = connector.connect;
      caches.push(createRedisCache({ mode: 'sentinel', client, keyPrefix: 'c:' }));
      assert.equal(connector.connect, wrapped, 'a third cache wrapped the shared client again');

      for (const cache of caches) assert.equal(await cache.set('k', enc('v1')), true);
      const [first, second] = set.sentinelServers;
      first!.child.kill('SIGSTOP');
      try {
        await set.master.kill();
        // The promotion is announced (+switch-master) while the clients still wait for the first
        // sentinel's answer.
        await waitFor(
          async () => (await sentinelMaster(second!.port, set.masterName))?.port === set.replica.port,
          { timeoutMs: 15_000, intervalMs: 50, what: 'the replica to be promoted' },
        );
        await sleep(200);
      } finally {
        first!.child.kill('SIGCONT');
      }
      const written = await retried(() =>
        caches[0]!.set('k', enc('v2')).then(
          (ok) => (ok ? '' : 'false'),
          (err: unknown) => String(err),
        ),
      );
      assert.equal(written, '', `writes never came back (client ${client.status}): ${written}`);
      assert.equal(await caches[1]!.set('k', enc('v2')), true);
      assert.equal(dec(await caches[1]!.get('k')), 'v2');
      for (const prefix of ['a:', 'b:'])
        assert.equal(
          await redisCommand(set.replica.port, ['GET', `${prefix}k`], { password: PASSWORD }),
          'v2',
          `${prefix}k written to the promoted replica`,
        );

      const published = await retried(async () => {
        const failed = await bus.publish({ origin: 'after-failover', keys: ['k'] }).then(
          () => '',
          (err: unknown) => String(err),
        );
        if (failed) return failed;
        await sleep(50); // the message comes back on the subscriber
        return heard.some((m) => m.origin === 'after-failover') ? '' : `not heard (subscriber ${bus.status})`;
      });
      assert.equal(
        published,
        '',
        `the bus never heard again (subscriber ${bus.status}, client ${busClient.status}): ${published}`,
      );
    });
  },
);
