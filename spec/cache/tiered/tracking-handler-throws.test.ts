/**
 * A handler given to `createRedisTracking`'s `start()` whose `onInvalidate` throws. The README
 * says a handler's throw is logged and the other handlers are still told; invalidations were
 * delivered without that guard: the throw was an uncaught exception out of the client's event
 * (the process ended) and a tiered cache on the same tracker kept serving the key's old value
 * from L1 after another client's write. Handlers that are not functions were taken and failed the
 * same way; start() now refuses them with a ConfigError.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { LogFields } from '../../../lib/core/contracts.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('redis tracking: an onInvalidate handler that throws', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis?.stop();
  });
  const l2For = (prefix: string) => {
    const l2 = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], keyPrefix: prefix });
    closers.push(() => l2.close());
    return l2;
  };

  for (const mode of ['default', 'bcast'] as const) {
    it(`${mode}: neither escapes nor keeps the tiered cache on the tracker serving an old value`, async () => {
      const uncaught: unknown[] = [];
      const onUncaught = (err: unknown) => uncaught.push(err);
      process.on('uncaughtException', onUncaught);
      try {
        const warnings: string[] = [];
        const logger = {
          debug() {},
          info() {},
          error() {},
          warn: (message: string, _fields?: LogFields) => {
            warnings.push(message);
          },
        };
        const l2 = l2For(`th-${mode}:`);
        const tracking = createRedisTracking({ cache: l2, mode, heartbeat: 200, logger });
        closers.push(() => tracking.close());
        await tracking.start({
          onInvalidate() {
            throw new Error('handler bug');
          },
          onLost() {},
          onMoved() {},
          onConfirmed() {},
        });
        const cache = createTieredCache({
          l1: createMemoryCache({ maxCost: 1 << 16 }),
          l2,
          tracking,
          l1Ttl: 60_000,
        });
        closers.push(() => cache.close());
        await cache.ready;
        const other = l2For(`th-${mode}:`);
        for (const [i, value] of [1, 2, 3].entries()) {
          await other.set('k', new Uint8Array([value]));
          let seen: number | undefined;
          // Bounded: 400 reads 5 ms apart; the tracking message arrives within a few ms.
          for (let n = 0; n < 400 && seen !== value; n++) {
            seen = (await cache.get('k'))?.[0];
            if (seen !== value) await new Promise((r) => setTimeout(r, 5));
          }
          assert.equal(seen, value, `write ${i + 1} seen`);
        }
        assert.deepEqual(uncaught, []);
        assert.equal(warnings.filter((m) => /onInvalidate handler threw/.test(m)).length, 1);
      } finally {
        process.off('uncaughtException', onUncaught);
      }
    });
  }

  it('start() refuses handlers that are not functions', async () => {
    const l2 = l2For('th-bad:');
    const tracking = createRedisTracking({ cache: l2, heartbeat: 200 });
    closers.push(() => tracking.close());
    await assert.rejects(
      tracking.start({ onInvalidate: 5, onLost() {}, onMoved() {}, onConfirmed() {} } as never),
      (e) => e instanceof ConfigError && e.issues.map((i) => i.path).join() === 'onInvalidate',
    );
    await assert.rejects(
      tracking.start(undefined as never),
      (e) => e instanceof ConfigError && e.issues.length === 4,
    );
  });
});
