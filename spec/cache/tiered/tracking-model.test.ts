/**
 * The model-based test (spec/conformance/model.ts) with an outside writer: two tiered instances
 * kept coherent by CLIENT TRACKING alone (no bus) over one Redis L2, while a redis-cli process —
 * another program — SETs and DELs the same keys. Checked: no read returns a value older than the
 * latest acknowledged write once the invalidation lag (`LAG_MS`) has passed since that write's
 * reply — writes through the reader's own instance with no lag at all; loads, timed-out writes and
 * stats as in the other model tests. Prints how many reads fell inside the lag and the longest.
 * The same check holds with instance 0 behind the fault proxy, which delays, drops and cuts the
 * client→server direction (its commands, heartbeats and set-ups): invalidations themselves are
 * never delayed there. A connection that silently loses the server→client direction is noticed
 * only by the heartbeat — that bound (`heartbeat + timeout`) is the README's, not `LAG_MS`.
 */
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { runModel } from '../../conformance/model.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { type OutsideWriter, outsideWriter } from './tracking-helpers.js';

/**
 * The invalidation lag the check allows (measured from a write's reply to the first fresh read:
 * median ~0.1 ms, max tens of ms on a loaded machine). Callers pause for longer than this now and
 * then, so that reads after a pause are held to every write acknowledged before it.
 */
const LAG_MS = 100;

describeWithServers('tiered cache model with tracking and an outside writer', skipRedis(), () => {
  let redis: RedisStandalone;
  let cli: OutsideWriter;
  let proxy: FaultProxy;
  before(async () => {
    redis = await startRedis();
    cli = outsideWriter(redis.port);
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    cli?.close();
    await proxy?.close();
    await redis?.stop();
  });

  const outside = (prefix: string) => {
    const expect = async (line: string, ok: RegExp) => {
      const reply = await cli.run(line);
      if (!ok.test(reply)) throw new Error(`redis-cli ${line}: ${reply}`);
    };
    return {
      set: (key: string, value: string) => expect(`SET ${prefix}${key} ${value}`, /^OK$/),
      delete: (key: string) => expect(`DEL ${prefix}${key}`, /^\d+$/),
    };
  };

  let n = 0;
  for (const mode of ['default', 'bcast'] as const) {
    it(`${mode} mode: two instances + redis-cli writes; never older than the latest acknowledged write after ${LAG_MS} ms`, async () => {
      await runModel(
        `tiered x2 + tracking ${mode} + outside writer`,
        async () => {
          const prefix = `tmodel-${mode}-${++n}:`;
          const caches = [0, 1].map((i) => {
            const l2 = createRedisCache({
              addresses: [`127.0.0.1:${redis.port}`],
              commandTimeout: 1000,
              keyPrefix: prefix,
            });
            return createTieredCache({
              l1: createMemoryCache({ maxCost: 1 << 20 }),
              l2,
              tracking: createRedisTracking({ cache: l2, mode }),
              // Outside values carry no envelope: cache them in L1 too (for a bounded time).
              l1Ttl: 60_000,
              instanceId: `i${i}`,
            });
          });
          await Promise.all(caches.map((c) => c.ready));
          return {
            caches,
            outside: outside(prefix),
            close: async () => {
              await Promise.all(caches.map((c) => c.close().catch(() => {})));
            },
          };
        },
        { runs: 50, instances: 2, outside: true, lagMs: LAG_MS },
      );
    });
  }

  // Its findings were not tracking's: a tiered setMany whose Redis deadline ignored the caller's
  // budget (seed 874054340, path 9), and loaded values whose background L2 store landed after a
  // newer write or delete by another instance (seeds 876475561 and 876709354); see late-stores.test.ts.
  it('under network faults (instance 0 behind the fault proxy): same check, timeouts tolerated', async () => {
    await runModel(
      'tiered x2 + tracking + outside writer + fault proxy',
      async () => {
        const prefix = `tmodel-fault-${++n}:`;
        const caches = [proxy.port, redis.port].map((port, i) => {
          const l2 = createRedisCache({
            addresses: [`127.0.0.1:${port}`],
            commandTimeout: 1000,
            keyPrefix: prefix,
          });
          return createTieredCache({
            l1: createMemoryCache({ maxCost: 1 << 20 }),
            l2,
            tracking: createRedisTracking({ cache: l2, heartbeat: 100, timeout: 300 }),
            l1Ttl: 60_000,
            l2Timeout: 100,
            breaker: false,
            instanceId: `i${i}`,
          });
        });
        await Promise.all(caches.map((c) => c.ready));
        return {
          caches,
          outside: outside(prefix),
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
            await Promise.all(caches.map((c) => c.close().catch(() => {})));
          },
        };
      },
      { runs: 30, instances: 2, outside: true, lagMs: LAG_MS, faults: true },
    );
  });
});
