/**
 * A user name without a password: `username` alone, `username: alice` with `password: ""` in a
 * config file, or `redis://alice@host:6379` (the demo's REDIS_URL). iovalkey then logs in with
 * `AUTH alice ""`, which Redis 6+ accepts only for an ACL user with `nopass`. For any other user
 * the error read "the server refused the username/password (check the ACL user)", sending the
 * user to check a password they had never given. It now says the user name came without a
 * password and what logs in that way; a user with `nopass` still logs in (as itself, not as the
 * default user), and a wrong password keeps the old message. Real redis-server with ACL users.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { redisOptionsFromUrl } from '../../../demo/env.js';
import { createRedisCache, type RedisCacheOptions } from '../../../lib/cache/redis/index.js';
import { validateConfig } from '../../../lib/config/load.js';
import { redisOptionsFromConfig, redisSection } from '../../../lib/config/sections/redis.js';
import { describeWithServers } from '../../harness/process.js';
import {
  type RedisSentinelSet,
  type RedisStandalone,
  skipRedis,
  startRedis,
  startRedisSentinel,
} from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

/** The error of a first write, or `undefined` when it succeeded (the cache closed either way). */
async function firstWriteError(options: RedisCacheOptions): Promise<Error | undefined> {
  const cache = createRedisCache({ commandTimeout: 2000, ...options });
  try {
    await cache.set('k', enc('v'));
    assert.equal(dec(await cache.get('k')), 'v');
    return undefined;
  } catch (e) {
    return e as Error;
  } finally {
    await cache.close();
  }
}

const WITHOUT_PASSWORD =
  /authentication failed: the server refused the username without a password \(only an ACL user with nopass logs in with a user name alone: set password\)/;

describeWithServers('redis: a user name without a password', skipRedis(), () => {
  let redis: RedisStandalone;
  let address: string;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis({
      password: 'default-secret',
      extraConfig: ['user alice on >alice-secret ~* +@all', 'user bob on nopass ~* +@all'],
    });
    address = `${redis.host}:${redis.port}`;
  });
  after(async () => {
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('says the user name came without a password, from the options, a config file or a redis:// URL', async () => {
    const section = validateConfig(
      redisSection,
      { type: 'redis', addresses: [address], username: 'alice', password: '' },
      'cache',
    );
    const given: [string, RedisCacheOptions][] = [
      ['options', { addresses: [address], username: 'alice' }],
      ['config', redisOptionsFromConfig(section)],
      ['url', redisOptionsFromUrl(`redis://alice@${address}`)],
    ];
    for (const [from, options] of given) {
      const err = await firstWriteError(options);
      assert.ok(err, `${from}: the write succeeded`);
      assert.match(err.message, WITHOUT_PASSWORD, from);
      assert.doesNotMatch(err.message, /secret/, from);
    }
  });

  it('logs a nopass user in as itself; a wrong password still reads as refused', async () => {
    const cache = createRedisCache({ addresses: [address], username: 'bob', commandTimeout: 2000 });
    try {
      assert.equal(await cache.set('k', enc('v')), true);
      assert.equal(await cache.client.call('ACL', 'WHOAMI'), 'bob');
    } finally {
      await cache.close();
    }
    const err = await firstWriteError({ addresses: [address], username: 'alice', password: 'wrong' });
    assert.ok(err, 'a wrong password was taken');
    assert.match(err.message, /refused the username\/password/);
  });
});

describeWithServers('redis sentinel: a user name without a password', skipRedis(), () => {
  let set: RedisSentinelSet;
  const unhandled = watchUnhandled();
  before(async () => {
    set = await startRedisSentinel({
      password: 'data-secret',
      sentinelPassword: 'sentinel-secret',
      dataExtraConfig: ['user alice on >alice-secret ~* +@all'],
      sentinelExtraConfig: ['user carol on >carol-secret ~* +@all'],
    });
  });
  after(async () => {
    await set?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  const sentinel = (extra: Record<string, string>) => ({
    masterName: set.masterName,
    sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
    ...extra,
  });

  it('names the side: the master refused username, or a sentinel refused sentinel.username', async () => {
    const atMaster = await firstWriteError({
      mode: 'sentinel',
      sentinel: sentinel({ password: 'sentinel-secret' }),
      username: 'alice',
    });
    assert.ok(atMaster, 'the write succeeded');
    assert.match(
      atMaster.message,
      /authentication failed at the master: it refused the username without a password \(only an ACL user with nopass logs in with a user name alone: set password;/,
    );
    const atSentinel = await firstWriteError({
      mode: 'sentinel',
      sentinel: sentinel({ username: 'carol' }),
      password: 'data-secret',
    });
    assert.ok(atSentinel, 'the write succeeded');
    assert.match(
      atSentinel.message,
      /authentication failed at a sentinel: it refused sentinel.username without a password \(only an ACL user with nopass logs in with a user name alone: set sentinel.password\)/,
    );
    for (const err of [atMaster, atSentinel]) assert.doesNotMatch(err.message, /secret/);
  });
});
