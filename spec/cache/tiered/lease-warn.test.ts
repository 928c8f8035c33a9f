/**
 * A loader lease that cannot be taken (its store down or connecting, an ACL refusing the lease keys)
 * means every instance loads its misses itself. That was silent (only counted in `l2Errors`), so a
 * lease that never worked went unnoticed; it is now one warning, then at most one per minute.
 *
 * A lease that cannot be released (an ACL user without `+del`, which the release script runs) stays
 * held by nobody until its ttl ends: after a failed load, another instance missing the key waited
 * its whole `leaseWait` before loading, and nothing said why. It is now a warning too, rate-limited
 * the same way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { aclRules, createRedisCache, createRedisLease } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { LoaderLease, Logger } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

function collecting(): {
  logger: Logger;
  warnings: { message: string; fields: Record<string, unknown> | undefined }[];
} {
  const warnings: { message: string; fields: Record<string, unknown> | undefined }[] = [];
  const logger = {
    debug() {},
    info() {},
    error() {},
    warn(message: string, fields?: Record<string, unknown>) {
      warnings.push({ message, fields });
    },
  } as unknown as Logger;
  return { logger, warnings };
}

describe('tiered lease that cannot be taken', () => {
  it('loads locally, and says so once in a rate-limited warning', async () => {
    const warnings: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn(message: string, fields?: Record<string, unknown>) {
        warnings.push({ message, fields });
      },
    } as unknown as Logger;
    let acquires = 0;
    const lease: LoaderLease = {
      async acquire() {
        acquires++;
        throw new CacheError('unavailable', 'redis lease acquire failed: the client is not connected');
      },
    };
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1_000_000 }),
      l2: createMemoryCache({ maxCost: 1_000_000 }),
      lease,
      logger,
    });
    try {
      let loads = 0;
      for (let i = 0; i < 5; i++) {
        const value = await cache.getOrSet(`k${i}`, async () => {
          loads++;
          return new Uint8Array([i]);
        });
        assert.deepEqual([...value], [i]);
      }
      assert.equal(acquires, 5);
      assert.equal(loads, 5);
      const about = warnings.filter((w) => /lease/.test(w.message));
      assert.equal(about.length, 1, JSON.stringify(warnings));
      assert.match(String(about[0]!.fields?.error), /not connected/);
    } finally {
      await cache.close();
    }
  });
});

describeWithServers('tiered lease that cannot be released (ACL user without +del)', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
    const rules = aclRules({ keyPrefix: 'lr:', mode: 'standalone', leasePrefix: 'hyperion:lease:lr:' });
    await redisCommand(redis.port, [
      'ACL',
      'SETUSER',
      'nodel',
      'on',
      '>pw',
      ...rules.filter((r) => r !== '+del'),
    ]);
  });
  after(() => redis?.stop());

  it('a release the server refuses is logged, once per minute with a count', async () => {
    const { logger, warnings } = collecting();
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: 'lr:',
      username: 'nodel',
      password: 'pw',
      commandTimeout: 2000,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1_000_000 }),
      l2,
      lease: createRedisLease({ client: l2.client }),
      logger,
    });
    try {
      for (let i = 0; i < 3; i++)
        await assert.rejects(
          cache.getOrSet(`k${i}`, async () => {
            throw new Error('source down');
          }),
          /source down/,
        );
      // The lease is still there (held by nobody), as the warning says.
      assert.equal(await redisCommand(redis.port, ['EXISTS', 'hyperion:lease:lr:k0']), 1);
      const about = warnings.filter((w) => /lease not released/.test(w.message));
      assert.equal(about.length, 1, JSON.stringify(warnings));
      assert.match(String(about[0]!.fields?.error), /redis lease release failed: .*aclRules\(\)/);
    } finally {
      await cache.close();
      await l2.close();
    }
  });
});
