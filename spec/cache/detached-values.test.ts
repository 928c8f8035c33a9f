/**
 * A value whose ArrayBuffer was transferred (postMessage to a worker, structuredClone with
 * `transfer`) is a Uint8Array that reads as 0 bytes. The memory and no-op caches take it as the
 * empty value; the Redis cache threw a raw TypeError ("Cannot perform Construct on a detached
 * ArrayBuffer") from set, setMany, getOrSet and pipelines, and the tiered cache another one
 * ("%TypedArray%.prototype.set on a detached ArrayBuffer") from its envelope. Now every cache
 * stores the empty value, and the next write works.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import type { Cache } from '../../lib/core/contracts.js';
import { describeWithServers } from '../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';

const detached = (): Uint8Array => {
  const bytes = new Uint8Array([1, 2, 3]);
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
  assert.equal(bytes.byteLength, 0);
  return bytes;
};

/** The byte length of a read (a detached view, as the memory cache returns it, reads as 0). */
const length = (bytes: Uint8Array | undefined): number | undefined => bytes?.byteLength;

describeWithServers('caches given a detached Uint8Array', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis?.stop();
  });
  const redisCache = (prefix: string) => {
    const cache = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], keyPrefix: prefix });
    closers.push(() => cache.close());
    return cache;
  };
  const caches = (): [string, Cache][] => {
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: redisCache('dt:'),
      ttl: 60_000,
    });
    closers.push(() => tiered.close());
    return [
      ['memory', createMemoryCache({ maxCost: 1 << 16 })],
      ['redis', redisCache('dr:')],
      ['tiered', tiered],
    ];
  };

  it('set, setMany and getOrSet store the empty value', async () => {
    for (const [name, cache] of caches()) {
      assert.equal(await cache.set('a', detached(), 60_000), true, name);
      assert.equal(length(await cache.get('a')), 0, name);
      await cache.setMany([{ key: 'b', value: detached() }]);
      assert.equal(length(await cache.get('b')), 0, name);
      assert.equal(length(await cache.getOrSet('c', () => detached(), 60_000)), 0, name);
      assert.equal(await cache.set('a', new Uint8Array([9]), 60_000), true, name);
      assert.deepEqual([...((await cache.get('a')) ?? [])], [9], name);
    }
  });

  it('a Redis pipeline and transaction take it too', async () => {
    const cache = redisCache('dp:');
    const [stored, read] = await cache.pipeline().set('p', detached()).get('p').exec();
    assert.equal(stored, true);
    assert.equal(length(read as Uint8Array | undefined), 0);
    await cache.transaction((tx) => {
      tx.set('t', detached());
    });
    assert.equal(length(await cache.get('t')), 0);
  });
});
