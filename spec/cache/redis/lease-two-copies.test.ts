/**
 * Two copies of the package in one process (two versions installed side by side: the
 * application's and a library's nested one), each with a loader lease over one cache's client and
 * the default prefix (`hyperion:lease:` + the cache's key prefix, which the lease reads from the
 * client's cache). Each copy kept its own record of the clients' key prefixes, so the other copy's
 * lease knew none and kept its locks under `hyperion:lease:<key>`: the two never excluded each
 * other, and both loaded the key. The record is now process-wide.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import * as first from '../../../lib/cache/redis/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { type SecondCopy, secondCopy } from '../../harness/second-copy.js';

describeWithServers('redis loader lease with two copies of the package', skipRedis(), () => {
  let redis: RedisStandalone;
  let copy: SecondCopy;
  let second: typeof first;
  before(async () => {
    redis = await startRedis();
    copy = await secondCopy();
    second = (await import(pathToFileURL(join(copy.lib, 'cache/redis/index.ts')).href)) as typeof first;
  });
  after(async () => {
    await copy?.remove();
    await redis?.stop();
  });

  it("the other copy's default lease over the cache's client takes the same lock", async () => {
    const l2 = first.createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'app:' });
    try {
      const mine = first.createRedisLease({ client: l2.client });
      const theirs = second.createRedisLease({ client: l2.client });
      const release = await mine.acquire('k');
      assert.ok(release, 'the first lease is taken');
      const other = await theirs.acquire('k');
      await other?.();
      assert.equal(other, undefined, "the other copy's lease was taken too: it locked another key");
      assert.deepEqual(await redisCommand(redis.port, ['KEYS', 'hyperion:lease:*']), [
        'hyperion:lease:app:k',
      ]);
      await release();
    } finally {
      await l2.close();
    }
  });
});
