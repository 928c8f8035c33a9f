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
      // The L2 budget as long as Redis's own: the model allows no rejection without faults, and a
      // fresh cache's first write (connect, clock measurement) outlasted the default 500 ms on a
      // loaded machine (a correct timeout, seen 1 run in ~1,000 with other suites running).
      2000,
    ),
  );
});
