/**
 * Two copies of the package in one process (two versions installed side by side: the
 * application's and a library's nested one), both asked for a tracker of one Redis client. A
 * connection has one redirect target, so a second tracker on a client is refused; but each copy
 * kept its own list of tracked clients, so the other copy's tracker was built, and the two took
 * the redirect from each other: both caches lost tracking (their L1 not trusted) within a
 * heartbeat or two. The list is now process-wide.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import * as first from '../../../lib/cache/redis/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { type SecondCopy, secondCopy } from '../../harness/second-copy.js';

describeWithServers('redis tracking with two copies of the package', skipRedis(), () => {
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

  it("the other copy's tracker on an already tracked client is refused", async () => {
    const l2 = first.createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'two:' });
    const tracker = first.createRedisTracking({ cache: l2 });
    let other: first.RedisTracking | undefined;
    try {
      assert.throws(
        () => {
          other = second.createRedisTracking({ client: l2.client, keyPrefix: 'two:' });
        },
        (err: { code?: unknown; message?: unknown }) =>
          err.code === 'config_invalid' && /already has a tracker/.test(String(err.message)),
      );
    } finally {
      await other?.close();
      await tracker.close();
      await l2.close();
    }
  });
});
