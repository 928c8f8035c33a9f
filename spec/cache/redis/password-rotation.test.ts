/**
 * A password rotated on the server while a command is on the wire (found from outside, /tmp
 * probe): the server changes `requirepass` and drops the cache's connection. iovalkey keeps the
 * command in flight to resend it once reconnected, but every reconnection is refused (WRONGPASS),
 * so it waited for the whole command timeout and failed with a bare "Command timed out" — while a
 * command called a moment later failed at once naming the refused password. Now the held command
 * fails as soon as the fault is known, with the same CacheError as the later ones.
 *
 * The command is kept on the wire deterministically by `CLIENT PAUSE … WRITE` (a guarded SET is a
 * write), and the connection is cut with `CLIENT KILL` while it waits.
 *
 * Cluster: a node whose reconnection is refused rejects its commands with the server's bare
 * WRONGPASS, which was `backend` ("WRONGPASS invalid username-password pair …") where every other
 * topology says `unavailable`, "authentication failed … (check the ACL user)".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import {
  type RedisCluster,
  type RedisStandalone,
  redisCommand,
  skipRedis,
  startRedis,
  startRedisCluster,
} from '../../harness/redis.js';
import { enc, rejectsWith, sleep, watchUnhandled } from './helpers.js';

const OLD = 'rotation-old-password';
const NEW = 'rotation-new-password';
/** Far above the time a fault takes to surface (ms): a command that waited for it is obvious. */
const COMMAND_TIMEOUT = 10_000;

describe('password rotated on the server with a command in flight', { skip: skipRedis() }, () => {
  let redis: RedisStandalone;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis({ password: OLD });
  });
  after(async () => {
    unhandled.dispose();
    await redis?.stop();
  });

  it('the command held for resending fails with the authentication fault, not the timeout', async () => {
    const cache = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      password: OLD,
      commandTimeout: COMMAND_TIMEOUT,
      name: 'rotation',
    });
    let password = OLD;
    const admin = (...args: (string | number)[]) => redisCommand(redis.port, args, { password });
    try {
      await cache.set('k', enc('v1'));
      await admin('CLIENT', 'PAUSE', 30_000, 'WRITE');
      const inFlight = cache.set('k', enc('v2'));
      inFlight.catch(() => {});
      // Until the paused server holds the SET (bounded: 200 × 10 ms).
      for (let i = 0; ; i++) {
        const list = String(await admin('CLIENT', 'LIST', 'TYPE', 'normal'));
        if (/name=hyperion:rotation .*cmd=eval/.test(list)) break;
        assert.ok(i < 200, `the SET never reached the server:\n${list}`);
        await sleep(10);
      }
      await admin('CONFIG', 'SET', 'requirepass', NEW);
      password = NEW;
      await admin('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      const err = await rejectsWith(inFlight, 'unavailable');
      assert.match(err.message, /authentication failed/, err.message);
      assert.ok(!err.message.includes(OLD) && !err.message.includes(NEW));
      // And a later command fails the same way (as before).
      const later = await rejectsWith(cache.get('k'), 'unavailable');
      assert.match(later.message, /authentication failed/);
    } finally {
      await admin('CLIENT', 'UNPAUSE').catch(() => {});
      await cache.close();
    }
    unhandled.check();
  });
});

describe('ACL password rotated on a cluster', { skip: skipRedis() }, () => {
  const ADMIN = 'rotation-admin-password';
  let cluster: RedisCluster;
  const unhandled = watchUnhandled();
  before(async () => {
    cluster = await startRedisCluster({ password: ADMIN, extraConfig: [`user app on >${OLD} ~* &* +@all`] });
  });
  after(async () => {
    unhandled.dispose();
    await cluster?.stop();
  });

  it('commands fail as an authentication fault (unavailable), like the other topologies', async () => {
    const cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      username: 'app',
      password: OLD,
      commandTimeout: COMMAND_TIMEOUT,
      name: 'rotation',
    });
    try {
      await cache.set('k', enc('v1'));
      for (const n of cluster.nodes)
        await redisCommand(n.port, ['ACL', 'SETUSER', 'app', 'resetpass', `>${NEW}`], { password: ADMIN });
      for (const n of cluster.nodes)
        await redisCommand(n.port, ['CLIENT', 'KILL', 'USER', 'app'], { password: ADMIN });
      const err = await rejectsWith(cache.get('k'), 'unavailable');
      assert.match(err.message, /authentication failed/, err.message);
      assert.ok(!err.message.includes(OLD) && !err.message.includes(NEW));
    } finally {
      await cache.close();
    }
    unhandled.check();
  });
});
