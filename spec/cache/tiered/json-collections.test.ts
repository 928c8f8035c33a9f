/**
 * `jsonCache` over a tiered cache over real Redis (and over a Redis cache alone): a value holding
 * a Map, Set, WeakMap or WeakSet is refused with `invalid_value` naming the key and the property
 * that holds it, and nothing is stored. Before, JSON wrote each as `{}`: `set` resolved, every
 * instance read `{}` back, and a `getOrSet` whose loader returned `{ byId: new Map(…) }` gave its
 * own caller `{ byId: {} }` and cached it for the entry's TTL — the entries lost without a word.
 * A collection with a `toJSON` of its own, an empty plain object and the documented lossy
 * encodings (a Date as its ISO string, `undefined` in an array as null) are stored as before.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  type RedisCache,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { jsonCache } from '../../../lib/core/typed.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const PREFIX = 'jcol:';

/** A Map-like value with a JSON form of its own: stored as that form. */
class Registry extends Map<string, number> {
  toJSON() {
    return Object.fromEntries(this);
  }
}

describeWithServers('jsonCache: Map and Set values over a tiered cache on Redis', skipRedis(), () => {
  let redis: RedisStandalone;
  let tiered: TieredCache;
  let other: TieredCache;
  let plainRedis: RedisCache;
  before(async () => {
    redis = await startRedis();
    const instance = () => {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: PREFIX });
      return createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        bus: createRedisInvalidationBus({ client: l2.client, channel: `${PREFIX}inv` }),
      });
    };
    tiered = instance();
    other = instance();
    plainRedis = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `${PREFIX}r:` });
    await Promise.all([tiered.ready, other.ready]);
  });
  after(async () => {
    for (const c of [tiered, other, plainRedis]) await c?.close().catch(() => {});
    await redis?.stop();
  });

  const refused = (key: string, what: RegExp) => (err: unknown) => {
    assert.ok(err instanceof CacheError, String(err));
    assert.equal(err.code, 'invalid_value');
    assert.match(err.message, new RegExp(`"${key}" is not JSON-serialisable: `));
    assert.match(err.message, what);
    return true;
  };
  const exists = async (key: string) => Number(await redisCommand(redis.port, ['EXISTS', key]));

  it('set and getOrSet refuse a Map or Set anywhere in the value; nothing reaches either level', async () => {
    const users = jsonCache<unknown>(tiered);
    const cases: [string, unknown, RegExp][] = [
      ['m', new Map([['a', 1]]), /a Map has no JSON form/],
      ['s', { tags: new Set(['x']) }, /a Set \(at "tags"\) has no JSON form/],
      ['e', { empty: new Map() }, /a Map \(at "empty"\)/],
      ['a', [1, new Set([2])], /a Set \(at "1"\)/],
      ['w', { seen: new WeakSet() }, /a WeakSet \(at "seen"\)/],
      // A property named '' is named too, not taken for the value itself.
      ['n', { '': new Set([1]) }, /a Set \(at ""\) has no JSON form/],
    ];
    for (const [key, value, what] of cases) {
      await assert.rejects(users.set(key, value), refused(key, what), key);
      let called = 0;
      await assert.rejects(
        users.getOrSet(`g${key}`, async () => {
          called++;
          return value;
        }),
        refused(`g${key}`, what),
        `getOrSet ${key}`,
      );
      assert.equal(called, 1);
      // Nothing stored: not in Redis, not served by this instance or another one.
      for (const k of [key, `g${key}`]) {
        assert.equal(await exists(`${PREFIX}${k}`), 0, k);
        assert.equal(await users.get(k), undefined, k);
        assert.equal(await jsonCache(other).get(k), undefined, k);
      }
    }
    // ifEquals is encoded the same way: a compare with a Map is refused, not a compare with `{}`.
    await users.set('cas', {});
    await assert.rejects(
      users.set('cas', { n: 1 }, undefined, { ifEquals: new Map() }),
      refused('cas', /^ifEquals of "cas" is not JSON-serialisable: a Map has no JSON form/),
    );
    assert.deepEqual(await users.get('cas'), {});
  });

  it('the same on a Redis cache alone', async () => {
    const view = jsonCache<unknown>(plainRedis);
    await assert.rejects(view.set('s', { ids: new Set([1, 2]) }), refused('s', /a Set \(at "ids"\)/));
    assert.equal(await exists(`${PREFIX}r:s`), 0);
  });

  it('a collection with a toJSON, an empty object, a Date and undefined in an array are stored as JSON writes them', async () => {
    const view = jsonCache<unknown>(tiered);
    const reg = new Registry([['a', 1]]);
    await view.set('reg', { reg, meta: {}, at: new Date(0), list: [undefined, 1] });
    const expected = { reg: { a: 1 }, meta: {}, at: '1970-01-01T00:00:00.000Z', list: [null, 1] };
    assert.deepEqual(await view.get('reg'), expected);
    assert.deepEqual(await jsonCache(other).get('reg'), expected);
    assert.deepEqual(await view.getOrSet('greg', async () => ({ reg, meta: {} })), {
      reg: { a: 1 },
      meta: {},
    });
  });
});
