/**
 * An invalidation bus whose Redis refuses its credentials (found from outside, /tmp probe): a bus
 * made from `redis` options (it owns its connections) rejected `subscribe()` — so the tiered
 * cache's `ready` — and `publish()` with iovalkey's raw ReplyError, whose `command` property is
 * `{ name: 'auth', args: [password] }`: `JSON.stringify(err)` or a structured logger printed the
 * password. A bus on a cache's client got the same raw ReplyError (scrubbed there by the cache).
 * Now both reject with CacheError('unavailable') naming the authentication failure, and no error
 * object the bus hands out carries the password.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { watchUnhandled } from './helpers.js';

const RIGHT = 'bus-right-password';
const WRONG = 'bus-wrong-password-planted';

/** Everything a logger or a caller could print of `err`: inspect (with causes) and JSON. */
function printed(err: unknown): string {
  return `${inspect(err, { depth: 20, showHidden: true })}\n${JSON.stringify(err)}\n${JSON.stringify((err as Error).cause)}`;
}

function assertAuthFailure(err: unknown, op: string): void {
  assert.ok(err instanceof CacheError, `expected a CacheError, got ${inspect(err)}`);
  assert.equal(err.code, 'unavailable');
  assert.match(err.message, new RegExp(`^redis invalidation bus: ${op} \\S+ failed: authentication failed`));
  assert.ok(!printed(err).includes(WRONG), `the password is in the error:\n${printed(err)}`);
}

describe('invalidation bus with refused credentials', { skip: skipRedis() }, () => {
  let redis: RedisStandalone;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis({ password: RIGHT });
  });
  after(async () => {
    unhandled.dispose();
    await redis?.stop();
  });

  it('a bus on its own connections: subscribe and publish reject with a CacheError, no password in it', async () => {
    const bus = createRedisInvalidationBus({
      redis: { host: redis.host, port: redis.port, password: WRONG },
    });
    try {
      const sub = await bus
        .subscribe(
          () => {},
          () => {},
        )
        .then(
          () => assert.fail('subscribed with a wrong password'),
          (err: unknown) => err,
        );
      assertAuthFailure(sub, 'SUBSCRIBE');
      const pub = await bus.publish({ origin: 'test', keys: ['k'] }).then(
        () => assert.fail('published with a wrong password'),
        (err: unknown) => err,
      );
      assertAuthFailure(pub, 'PUBLISH');
    } finally {
      await bus.close();
    }
    unhandled.check();
  });

  it("a bus on a cache's client: subscribe rejects with the same CacheError", async () => {
    const cache = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], password: WRONG });
    const bus = createRedisInvalidationBus({ client: cache.client });
    try {
      const err = await bus
        .subscribe(
          () => {},
          () => {},
        )
        .then(
          () => assert.fail('subscribed with a wrong password'),
          (e: unknown) => e,
        );
      assertAuthFailure(err, 'SUBSCRIBE');
    } finally {
      await bus.close();
      await cache.close();
    }
    unhandled.check();
  });
});
