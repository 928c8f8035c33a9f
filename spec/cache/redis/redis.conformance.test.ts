import { after, before } from 'node:test';
import { cacheConformance } from '../../conformance/cache.js';
import { redisUnderTest } from '../../conformance/caches.js';
import { describeWithServers } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisSentinelSet,
  type RedisStandalone,
  skipRedis,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from '../../harness/redis.js';

const caps = { stores: true, closable: true };

describeWithServers('redis standalone', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis({ password: 'conformance' });
  });
  after(() => redis?.stop());
  cacheConformance('redis (standalone)', caps, () =>
    redisUnderTest({ addresses: [`${redis.host}:${redis.port}`], password: 'conformance' }),
  );
});

describeWithServers('redis cluster', skipRedis(), () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(() => cluster?.stop());
  cacheConformance('redis (cluster)', caps, () =>
    redisUnderTest({ mode: 'cluster', addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`) }),
  );
});

describeWithServers('redis sentinel', skipRedis(), () => {
  let set: RedisSentinelSet;
  before(async () => {
    set = await startRedisSentinel();
  });
  after(() => set?.stop());
  cacheConformance('redis (sentinel)', caps, () =>
    redisUnderTest({
      mode: 'sentinel',
      sentinel: {
        masterName: set.masterName,
        sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      },
    }),
  );
});
