/**
 * The model-based test (spec/conformance/model.ts) of the Redis cache under network faults: one
 * cache behind the loopback fault proxy (delayed, dropped, cut connections) and one connected
 * directly, sharing keys, against a standalone server. Without faults every cache runs the model
 * in its conformance suite.
 */
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { runModel } from '../../conformance/model.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('redis cache model under network faults', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  let n = 0;
  it('a faulted and a direct client: no read of a superseded value, no timed-out write landing late', async () => {
    await runModel(
      'redis standalone + fault proxy',
      () => {
        const keyPrefix = `model-${++n}:`;
        const faulted = createRedisCache({
          addresses: [`127.0.0.1:${proxy.port}`],
          commandTimeout: 120,
          keyPrefix,
        });
        const direct = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], keyPrefix });
        return {
          caches: [faulted, direct],
          faults: {
            delay: (ms) => {
              proxy.delay = ms;
            },
            drop: (on) => {
              proxy.dropping = on;
            },
            cut: () => proxy.cut(),
            heal: () => {
              proxy.delay = 0;
              proxy.dropping = false;
            },
          },
          close: async () => {
            await Promise.all([faulted.close(), direct.close()]);
          },
        };
      },
      { runs: 60, instances: 2, faults: true },
    );
  });
});
