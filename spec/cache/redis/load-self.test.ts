/**
 * A getOrSet loader that calls getOrSet of its own key: the inner call would join the load it runs
 * in, and the two waited for each other for good (or until `loadTimeout`). As on the memory cache,
 * the inner call rejects with `invalid_key` at once. (`loadTimeout` bounds the old hang here.)
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers, freePort } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

const codeOf = (err: unknown) => (err instanceof CacheError ? err.code : String(err));

describeWithServers('redis cache getOrSet called from its own loader', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis();
    cache = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      commandTimeout: 2000,
      keyPrefix: 'load-self:',
      loadTimeout: 5000,
    });
  });
  after(async () => {
    await cache?.close();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('the inner getOrSet of the same key rejects with invalid_key; the outer load completes and stores', async () => {
    let inner: unknown;
    const value = await cache.getOrSet('k', async () => {
      inner = await cache.getOrSet('k', async () => enc('inner')).catch((err: unknown) => err);
      return enc('outer');
    });
    assert.equal(codeOf(inner), 'invalid_key');
    assert.match((inner as Error).message, /would wait for itself/);
    assert.equal(dec(value), 'outer');
    assert.equal(dec(await cache.get('k')), 'outer');
  });

  it('also through the loader of another key (a loads b, whose loader asks for a)', async () => {
    let inner: unknown;
    const a = await cache.getOrSet('a', async () => {
      const b = await cache.getOrSet('b', async () => {
        inner = await cache.getOrSet('a', async () => enc('a-inner')).catch((err: unknown) => err);
        return enc('b');
      });
      return enc(`a+${dec(b)}`);
    });
    assert.equal(codeOf(inner), 'invalid_key');
    assert.equal(dec(a), 'a+b');
  });

  it('other callers of the key still share the load', async () => {
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return enc('shared');
    };
    const values = await Promise.all([cache.getOrSet('s', loader), cache.getOrSet('s', loader)]);
    assert.deepEqual(values.map(dec), ['shared', 'shared']);
    assert.equal(calls, 1);
  });

  it('while Redis cannot answer (fail-open loads) too', async () => {
    const down = createRedisCache({
      addresses: [`127.0.0.1:${await freePort()}`],
      commandTimeout: 200,
      loadTimeout: 5000,
    });
    try {
      let inner: unknown;
      const value = await down.getOrSet('k', async () => {
        inner = await down.getOrSet('k', async () => enc('inner')).catch((err: unknown) => err);
        return enc('outer');
      });
      assert.equal(codeOf(inner), 'invalid_key');
      assert.equal(dec(value), 'outer');
    } finally {
      await down.close();
    }
  });
});
