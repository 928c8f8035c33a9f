/**
 * The model-based test (spec/conformance/model.ts) of the tiered cache beyond its conformance run:
 * one instance over a Redis L2 behind the loopback fault proxy (delays past `l2Timeout`, dropped
 * and cut connections), and several instances over one L2 joined by an invalidation bus (their L1
 * copies may lag an invalidation, never go back in time for a caller).
 */
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { runModel } from '../../conformance/model.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { busHub } from './fakes.js';

const memory = () => createMemoryCache({ maxCost: 1 << 20 });

describe('tiered cache model: instances over one L2 and a bus', () => {
  it('reads never go back in time for a caller; stats add up', async () => {
    await runModel(
      'tiered x3 over memory L2 + bus',
      () => {
        const l2 = memory();
        const hub = busHub();
        const caches = [0, 1, 2].map((i) =>
          createTieredCache({ l1: memory(), l2, bus: hub.bus(), instanceId: `i${i}` }),
        );
        return {
          caches,
          close: async () => {
            // The instances share L2: close it once, after them.
            for (const c of caches) await c.ready;
            await Promise.all(caches.map((c) => c.close().catch(() => {})));
          },
        };
      },
      { runs: 200, instances: 3, mode: 'instances' },
    );
  });
});

describeWithServers('tiered cache model under network faults', skipRedis(), () => {
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
  it('one instance over a faulted Redis L2: no superseded read, no timed-out write landing late', async () => {
    await runModel(
      'tiered over Redis L2 + fault proxy',
      () => {
        const cache = createTieredCache({
          l1: memory(),
          // L2's commandTimeout is far above l2Timeout: only the write budget keeps late writes out.
          l2: createRedisCache({
            addresses: [`127.0.0.1:${proxy.port}`],
            commandTimeout: 1000,
            keyPrefix: `tmodel-${++n}:`,
          }),
          l2Timeout: 100,
          breaker: false,
        });
        return {
          caches: [cache],
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
          close: () => cache.close(),
        };
      },
      { runs: 60, faults: true },
    );
  });
});
