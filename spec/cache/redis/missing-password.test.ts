/**
 * A Redis that requires a password, reached with none configured (a `REDIS_URL` without its
 * password, a sentinel deployment whose `sentinel.password` was left out). The server answers
 * NOAUTH, and every topology said "the server refused the username/password (check the ACL
 * user)" — a user who had set no password went looking for a wrong one. The fault (code
 * `unavailable`, at once) now says a password is required and none was given, naming the option
 * for that side; a wrong password still reads as refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createRedisCache,
  createRedisInvalidationBus,
  type RedisCache,
} from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import {
  type RedisCluster,
  type RedisSentinelSet,
  type RedisStandalone,
  skipRedis,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from '../../harness/redis.js';
import { watchUnhandled } from './helpers.js';

const PASSWORD = 'missing-password-test';
const SENTINEL_PASSWORD = 'missing-password-sentinels';

/** The error of a `get` through `cache` (closed after). */
async function getError(cache: RedisCache): Promise<CacheError> {
  try {
    const err = await cache.get('k').then(
      () => assert.fail('read without the password'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CacheError, String(err));
    assert.equal(err.code, 'unavailable', err.message);
    return err;
  } finally {
    await cache.close();
  }
}

const REQUIRED = /authentication failed: the server requires a password and none was given \(set password\b/;

describe('a Redis that requires a password, none given', { skip: skipRedis() }, () => {
  const unhandled = watchUnhandled();
  let standalone: RedisStandalone;
  before(async () => {
    standalone = await startRedis({ password: PASSWORD });
  });
  after(async () => {
    await standalone?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('standalone: names the missing password; a wrong one still reads as refused', async () => {
    const addresses = [`${standalone.host}:${standalone.port}`];
    const none = await getError(createRedisCache({ addresses, commandTimeout: 2000 }));
    assert.match(none.message, REQUIRED);
    const wrong = await getError(createRedisCache({ addresses, password: 'wrong', commandTimeout: 2000 }));
    assert.match(wrong.message, /the server refused the username\/password/);
    assert.doesNotMatch(wrong.message, /none was given/);
    // The right one works (the server is what the messages say it is).
    const right = createRedisCache({ addresses, password: PASSWORD, commandTimeout: 2000 });
    try {
      assert.equal(await right.get('k'), undefined);
    } finally {
      await right.close();
    }
  });

  it('the connection-error log record says the same (it said "refused the username/password")', async () => {
    const records: string[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (message: string, fields?: { error?: unknown }) =>
        void records.push(`${message}: ${fields?.error}`),
    };
    await getError(
      createRedisCache({
        addresses: [`${standalone.host}:${standalone.port}`],
        commandTimeout: 2000,
        logger,
      }),
    );
    const connection = records.filter((r) => r.startsWith('redis connection error'));
    assert.ok(connection.length > 0, JSON.stringify(records));
    for (const r of connection) assert.match(r, REQUIRED);
  });

  it('health() says the same', async () => {
    const cache = createRedisCache({
      addresses: [`${standalone.host}:${standalone.port}`],
      commandTimeout: 2000,
    });
    try {
      await cache.get('k').catch(() => {});
      const health = await cache.health();
      assert.equal(health.ok, false);
      assert.match(String(health.error), /requires a password and none was given/);
    } finally {
      await cache.close();
    }
  });

  it('an invalidation bus on its own connections says the same', async () => {
    const bus = createRedisInvalidationBus({ redis: { host: standalone.host, port: standalone.port } });
    try {
      const err = await bus
        .subscribe(
          () => {},
          () => {},
        )
        .then(
          () => assert.fail('subscribed without the password'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof CacheError, String(err));
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, /requires a password and none was given \(set password\b/);
    } finally {
      await bus.close();
    }
  });

  describe('sentinel', () => {
    let set: RedisSentinelSet;
    before(async () => {
      set = await startRedisSentinel({ password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
    });
    after(async () => {
      await set?.stop();
    });
    const options = (sentinel: { password?: string }, password?: string) => ({
      mode: 'sentinel' as const,
      addresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      sentinel: { masterName: set.masterName, ...sentinel },
      ...(password === undefined ? {} : { password }),
      commandTimeout: 2000,
    });

    it('no sentinel password: names sentinel.password', async () => {
      const err = await getError(createRedisCache(options({}, PASSWORD)));
      assert.match(
        err.message,
        /authentication failed at a sentinel: it requires a password and none was given \(set sentinel\.password/,
      );
    });

    it("no data-node password: names password, at the master, not the sentinels' one (the log too)", async () => {
      const records: string[] = [];
      const logger = {
        debug() {},
        info() {},
        error() {},
        warn: (message: string, fields?: { error?: unknown }) =>
          void records.push(`${message}: ${fields?.error}`),
      };
      const err = await getError(createRedisCache({ ...options({ password: SENTINEL_PASSWORD }), logger }));
      const atMaster =
        /authentication failed at the master: it requires a password and none was given \(set password\b/;
      assert.match(err.message, atMaster);
      const connection = records.filter((r) => r.startsWith('redis connection error'));
      assert.ok(connection.length > 0, JSON.stringify(records));
      for (const r of connection) assert.match(r, atMaster);
    });

    it('a wrong sentinel password still reads as refused', async () => {
      const err = await getError(createRedisCache(options({ password: 'wrong' }, PASSWORD)));
      assert.match(err.message, /at a sentinel: it refused the sentinel username\/password/);
    });
  });

  describe('cluster', () => {
    let cluster: RedisCluster;
    before(async () => {
      cluster = await startRedisCluster({ password: PASSWORD });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('names the missing password', async () => {
      const node = cluster.nodes[0]!;
      const err = await getError(
        createRedisCache({ mode: 'cluster', addresses: [`${node.host}:${node.port}`], commandTimeout: 2000 }),
      );
      assert.match(err.message, REQUIRED);
    });
  });
});
