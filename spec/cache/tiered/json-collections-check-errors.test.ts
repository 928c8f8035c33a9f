/**
 * `jsonCache`'s check for a Map or Set (a second JSON pass, run when the encoded text holds `{}`)
 * refuses with the same typed `CacheError('invalid_value')` as the first pass when it cannot
 * finish. It escaped untyped: a value nested a few levels short of V8's stack limit (the pass with
 * a replacer takes more stack per level) rejected `set` and `getOrSet` with a bare RangeError, and
 * a getter that throws on its second read with the getter's own error, where the README documents
 * `invalid_value` for every value JSON cannot encode.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { jsonCache } from '../../../lib/core/typed.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const PREFIX = 'jchk:';

/** `{ a: { a: … {} } }`, `depth` levels: its text holds `{}`, so the second pass runs. */
function nested(depth: number): unknown {
  let o: unknown = {};
  for (let i = 0; i < depth; i++) o = { a: o };
  return o;
}

const typedOrStored = (outcome: PromiseSettledResult<unknown>, label: string) => {
  if (outcome.status === 'fulfilled') return;
  const err: unknown = outcome.reason;
  assert.ok(err instanceof CacheError, `${label}: ${String(err)}`);
  assert.equal(err.code, 'invalid_value', label);
  assert.match(err.message, /is not JSON-serialisable/, label);
};

describeWithServers('jsonCache: the collection check refuses with invalid_value', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  before(async () => {
    redis = await startRedis();
    cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: PREFIX });
  });
  after(async () => {
    await cache?.close().catch(() => {});
    await redis?.stop();
  });

  it('a value nested near the stack limit is stored or refused as invalid_value, never a bare RangeError', async () => {
    const view = jsonCache<unknown>(cache);
    // Around the deepest value JSON.stringify encodes here: the two passes' limits differ by a
    // few levels, so some depth in this range passes the first and overflows in the second.
    let limit = 1;
    for (let d = 1000; d < 100_000; d += 1000) {
      try {
        JSON.stringify(nested(d));
        limit = d;
      } catch {
        break;
      }
    }
    let refused = 0;
    for (let d = limit; d < limit + 1000; d += 2) {
      const value = nested(d);
      const [set, loaded] = await Promise.allSettled([
        view.set(`s${d}`, value),
        view.getOrSet(`g${d}`, async () => value),
      ]);
      typedOrStored(set, `set at depth ${d}`);
      typedOrStored(loaded, `getOrSet at depth ${d}`);
      if (set.status === 'rejected') refused++;
    }
    // The range reaches past the limit: values there are refused (the test saw the edge).
    assert.ok(refused > 0);
  });

  it('a getter that throws on its second read: invalid_value with the error as cause, nothing stored', async () => {
    const view = jsonCache<unknown>(cache);
    const gone = new Error('read once');
    const value = () => {
      let reads = 0;
      return {
        meta: {},
        get token() {
          reads++;
          if (reads > 1) throw gone;
          return 'x';
        },
      };
    };
    for (const [key, call] of [
      ['once', () => view.set('once', value())],
      ['gonce', () => view.getOrSet('gonce', async () => value())],
    ] as const) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof CacheError, String(err));
        assert.equal(err.code, 'invalid_value');
        assert.match(err.message, new RegExp(`"${key}" is not JSON-serialisable: read once$`));
        assert.equal(err.cause, gone);
        return true;
      });
      assert.equal(Number(await redisCommand(redis.port, ['EXISTS', `${PREFIX}${key}`])), 0);
    }
  });
});
