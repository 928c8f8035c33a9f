/**
 * What `delete` and `deleteMany` report for a key only this L1 still held, on real Redis (README,
 * "Writes"): another program deleted the key's L2 entry (no bus, no tracking: this instance never
 * heard of it), so L1 still serves it. The delete removed that copy, so it counts: `delete`
 * resolves `true` and `deleteMany` the larger of the two levels' counts. Pinned by the mutation
 * pass: `deleteMany` reporting L2's count alone survived every other test.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const enc = (s: string) => Buffer.from(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

describeWithServers('tiered delete of a key only L1 still held', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('delete and deleteMany count it; the L1 copy is gone', async () => {
    const prefix = 'dc:';
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix }),
      ttl: 60_000,
    });
    try {
      await cache.ready;
      await cache.setMany([
        { key: 'a', value: enc('1') },
        { key: 'b', value: enc('2') },
        { key: 'c', value: enc('3') },
      ]);
      // Another program removes a and c from Redis; this instance's L1 still serves them.
      await redisCommand(redis.port, ['DEL', `${prefix}a`, `${prefix}c`]);
      assert.equal(dec(await cache.get('a')), '1');
      assert.equal(await cache.deleteMany(['a']), 1, 'the L1 copy of a was removed');
      assert.equal(dec(await cache.get('a')), undefined);
      // a now absent everywhere, b in both levels, c in L1 only: the larger count, 2.
      assert.equal(await cache.deleteMany(['a', 'b', 'c']), 2);
      assert.deepEqual((await cache.getMany(['a', 'b', 'c'])).map(dec), [undefined, undefined, undefined]);
      await cache.set('d', enc('4'));
      await redisCommand(redis.port, ['DEL', `${prefix}d`]);
      assert.equal(await cache.delete('d'), true, 'the L1 copy of d was removed');
      assert.equal(await cache.delete('d'), false);
    } finally {
      await cache.close();
    }
  });
});
