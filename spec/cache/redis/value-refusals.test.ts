/**
 * Every value refusal names its key (as the memory README promises for the caches): `set`,
 * `setMany` and `getOrSet` did, but `pipeline().set` and `tx.set` said only "cache value must be a
 * Uint8Array or Buffer" / "cache value is larger than 536870912 bytes", so in a batch of keys the
 * culprit was left to guess. And an `ifEquals` over Redis's 512 MiB was refused as "cache value is
 * larger …" although the value written was a few bytes. A loaded value that large is served by
 * `getOrSet` uncached (it was refused), as the memory cache serves one over its maxCost.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { enc, rejectsWith, watchUnhandled } from './helpers.js';

/** Bytes that report one byte more than Redis's 512 MiB, without that memory: refused unread. */
function overRedisLimit(): Uint8Array {
  const bytes = new Uint8Array(1);
  Object.defineProperty(bytes, 'byteLength', { value: 512 * 1024 * 1024 + 1 });
  return bytes;
}

/** The CacheError `fn` throws (synchronously). */
function thrown(fn: () => unknown): CacheError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CacheError, String(e));
    return e;
  }
  assert.fail('nothing thrown');
}

describeWithServers('value refusals name their key', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis();
    cache = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      keyPrefix: 'vr:',
      commandTimeout: 2000,
    });
  });
  after(async () => {
    await cache?.close();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('pipeline().set: not bytes, or over 512 MiB', () => {
    const notBytes = thrown(() => cache.pipeline().set('p:str', 'text' as never));
    assert.equal(notBytes.code, 'invalid_value');
    assert.match(notBytes.message, /^cache value of "p:str" must be a Uint8Array or Buffer/);
    const large = thrown(() => cache.pipeline().set('p:big', overRedisLimit()));
    assert.equal(large.code, 'too_large');
    assert.match(large.message, /^cache value of "p:big" is larger than 536870912 bytes/);
  });

  it('tx.set: not bytes, or over 512 MiB; nothing applied', async () => {
    const notBytes = await rejectsWith(
      cache.transaction((tx) => {
        tx.set('t:ok', enc('v'));
        tx.set('t:str', 'text' as never);
      }),
      'invalid_value',
    );
    assert.match(notBytes.message, /^cache value of "t:str" must be a Uint8Array or Buffer/);
    const large = await rejectsWith(
      cache.transaction((tx) => void tx.set('t:big', overRedisLimit())),
      'too_large',
    );
    assert.match(large.message, /^cache value of "t:big" is larger than 536870912 bytes/);
    assert.equal(await cache.get('t:ok'), undefined);
  });

  it('getOrSet serves a loaded value over 512 MiB uncached, as the memory cache serves one over maxCost', async () => {
    // It rejected with too_large, though the loader's value is the answer (a value the server
    // refuses, over its proto-max-bulk-len, was already served: fail-open).
    const loaded = overRedisLimit();
    const got = await cache.getOrSet('g:big', async () => loaded);
    assert.equal(got, loaded);
    assert.equal(await cache.get('g:big'), undefined, 'not stored');
    // A loaded value that is not bytes is still refused, naming its key.
    const err = await rejectsWith(
      cache.getOrSet('g:str', async () => 'text' as never),
      'invalid_value',
    );
    assert.match(err.message, /^cache value of "g:str" must be a Uint8Array or Buffer/);
  });

  it('set with an ifEquals over 512 MiB names ifEquals and the key, not the value', async () => {
    const err = await rejectsWith(
      cache.set('c:k', enc('small'), undefined, { ifEquals: overRedisLimit() }),
      'too_large',
    );
    assert.match(err.message, /^set: ifEquals of "c:k" is larger than 536870912 bytes/);
    assert.equal(await cache.get('c:k'), undefined);
  });
});
