/**
 * `loadTimeout` on a real standalone Redis: a getOrSet loader that never settles no longer holds
 * its key for good (every later getOrSet of the key in the process used to join the hung load,
 * whatever loader it brought), and its late value is never stored.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

describeWithServers('redis cache loadTimeout', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis();
    cache = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      commandTimeout: 2000,
      keyPrefix: 'load-timeout:',
      loadTimeout: 60,
    });
  });
  after(async () => {
    await cache?.close();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('a hung load rejects every joined caller with timeout; the next caller loads and stores; the late value is dropped', async () => {
    const timedOut = (e: unknown) =>
      e instanceof CacheError && e.code === 'timeout' && /within 60 ms/.test(e.message);
    let finishHung!: (v: Uint8Array) => void;
    const first = cache.getOrSet('k', () => new Promise<Uint8Array>((resolve) => (finishHung = resolve)));
    const joined = cache.getOrSet('k', async () => enc('joined'));
    await assert.rejects(first, timedOut);
    await assert.rejects(joined, timedOut);
    assert.equal(await cache.get('k'), undefined, 'a timed-out load stores nothing');
    assert.equal(dec(await cache.getOrSet('k', async () => enc('fresh'))), 'fresh');
    finishHung(enc('late'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(dec((await cache.get('k'))!), 'fresh');
  });

  it('off by default; Infinity accepted; a bad value is a ConfigError naming loadTimeout', () => {
    const addresses = [`${redis.host}:${redis.port}`];
    for (const bad of [0, -5, Number.NaN, 2 ** 31, '100'])
      assert.throws(
        () => createRedisCache({ addresses, loadTimeout: bad as number, minIdleConns: 0 }),
        (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === 'loadTimeout'),
        String(bad),
      );
  });
});
