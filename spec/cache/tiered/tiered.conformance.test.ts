import { after, before } from 'node:test';
import { cacheConformance } from '../../conformance/cache.js';
import { createRedisCache, tieredUnderTest } from '../../conformance/caches.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const caps = { stores: true, closable: true };

cacheConformance('tiered (memory L1 over memory L2)', caps, () => tieredUnderTest());

describeWithServers('tiered over redis', skipRedis(), () => {
  let redis: RedisStandalone;
  let n = 0;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());
  cacheConformance('tiered (memory L1 over Redis L2)', caps, () =>
    tieredUnderTest(
      createRedisCache({
        addresses: [`${redis.host}:${redis.port}`],
        keyPrefix: `tiered-conformance-${++n}:`,
        commandTimeout: 2000,
      }),
    ),
  );
});
