/**
 * A `+switch-master` that arrives while the client asks a sentinel for the master. iovalkey's
 * failover detector disconnects the connector on a switch; the detector of the last master
 * connection stays subscribed while the client reconnects, and an attempt it cut while asking a
 * sentinel failed with "Connection is closed.", after which iovalkey ended the client for good:
 * every command failed `unavailable` "connection ended: Connection is closed." for ever. Seen as
 * `sentinel.test.ts` failing 3 of 37 runs (the master killed, the replica promoted, writes never
 * back within 30 s). Here the first sentinel is hung (SIGSTOP) while the master is killed, so the
 * client's first reconnect attempt is still asking it when the switch comes: before the fix the
 * cache never wrote again; now the attempt asks the sentinels again.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
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

const PASSWORD = 'switch-pass';

describeWithServers('sentinel: a failover announced while the client asks a sentinel', skipRedis(), () => {
  let set: RedisSentinelSet;
  let cache: RedisCache;
  const unhandled = watchUnhandled();

  before(async () => {
    set = await startRedisSentinel({ password: PASSWORD });
    cache = createRedisCache({
      mode: 'sentinel',
      sentinel: {
        masterName: set.masterName,
        sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      },
      password: PASSWORD,
      // A sentinel lookup is bounded by half of it: the hung first sentinel holds the client's
      // attempt up to 5 s, longer than the failover takes (~2.5 s); it is resumed before that.
      commandTimeout: 10_000,
      keyPrefix: 'swc:',
    });
  });
  after(async () => {
    set?.sentinelServers[0]?.child.kill('SIGCONT');
    await cache?.close();
    await set?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('writes again on the promoted replica (the client was ended for good)', async () => {
    assert.equal(await cache.set('k', enc('v1')), true);
    const [first, second] = set.sentinelServers;
    first!.child.kill('SIGSTOP');
    try {
      await set.master.kill();
      // The promotion is announced (+switch-master) while the client still waits for the first
      // sentinel's answer.
      await waitFor(
        async () => (await sentinelMaster(second!.port, set.masterName))?.port === set.replica.port,
        {
          timeoutMs: 15_000,
          intervalMs: 50,
          what: 'the replica to be promoted',
        },
      );
      await sleep(200);
    } finally {
      first!.child.kill('SIGCONT');
    }
    // Bounded: 100 attempts, 10 s.
    let last = '';
    const until = performance.now() + 10_000;
    for (let i = 0; i < 100 && performance.now() < until; i++) {
      last = await cache.set('k', enc('v2')).then(
        (ok) => String(ok),
        (err: unknown) => String(err),
      );
      if (last === 'true') break;
      await sleep(100);
    }
    assert.equal(last, 'true', `writes never came back: ${last}`);
    assert.equal(dec(await cache.get('k')), 'v2');
    assert.equal(
      await redisCommand(set.replica.port, ['GET', 'swc:k'], { password: PASSWORD }),
      'v2',
      'written to the promoted replica',
    );
  });
});
