/**
 * A caller that read a newer value from L2 no longer joins a load of that key begun before it
 * (README "Coherence between instances": a caller never reads a value older than one it already
 * read). Found from outside (callers on instance A each reading in a loop while B wrote the keys,
 * A's replies and invalidations delayed at random): a caller read v2 from L2, then its getOrSet
 * joined a load of the key begun before B's write and got that load's older v1, until B's
 * invalidation reached A. The fence kept the older value out of L1, but the caller's next call
 * joined the flight whenever the newer value had not entered L1 — here too large for its
 * `maxCost` (also: refused by admission, a fill dropped as unordered, tracking not confirmed).
 * A's invalidations are held back by a proxy on its bus's subscriber, as while Redis is stalled
 * between B's SET and its PUBLISH or the subscriber connection is slow.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { type ReplyDelayProxy, replyDelayProxy } from './reply-delay.js';

/** A value larger than A's L1 (`maxCost` 1 KiB): it is read from L2 but never enters L1. */
const big = (s: string) => Buffer.from(s.padEnd(4096, '.'));
const text = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : Buffer.from(b).toString('utf8', 0, 2);

describeWithServers(
  'tiered cache: a caller does not join a load older than a value it read',
  skipRedis(),
  () => {
    let redis: RedisStandalone;
    let ns = 0;
    before(async () => {
      redis = await startRedis();
    });
    after(() => redis?.stop());

    for (const read of ['get', 'getMany'] as const)
      for (const next of ['getOrSet', 'getOrSetMany'] as const)
        it(`after ${read} read v2 from L2, ${next} does not get v1 from a load begun before B wrote v2`, async () => {
          const prefix = `fo${++ns}:`;
          const channel = `${prefix}inv`;
          // A's bus subscribes through a proxy that holds Redis's messages back (set below): B's
          // invalidation reaches A only after the calls under test.
          const proxy: ReplyDelayProxy = await replyDelayProxy(redis.port);
          const l2a = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix });
          const a: TieredCache = createTieredCache({
            l1: createMemoryCache({ maxCost: 1024 }),
            l2: l2a,
            bus: createRedisInvalidationBus({ redis: { host: '127.0.0.1', port: proxy.port }, channel }),
          });
          const l2b = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix });
          const b: TieredCache = createTieredCache({
            l1: createMemoryCache({ maxCost: 1 << 20 }),
            l2: l2b,
            bus: createRedisInvalidationBus({ client: l2b.client, channel }),
          });
          let proxyClosed = false;
          try {
            await Promise.all([a.ready, b.ready]);
            proxy.state.delay = 60_000;
            let release!: () => void;
            const gate = new Promise<void>((r) => {
              release = r;
            });
            let loaderStarted!: () => void;
            const started = new Promise<void>((r) => {
              loaderStarted = r;
            });
            // A load of k on A, begun before B's write: its loader gives the value of then, v1.
            const older = a.getOrSet('k', async () => {
              loaderStarted();
              await gate;
              return big('v1');
            });
            await started;
            await b.set('k', big('v2'));
            const seen = read === 'get' ? await a.get('k') : (await a.getMany(['k']))[0];
            assert.equal(text(seen), 'v2', 'A read the value B wrote from L2');
            const joined =
              next === 'getOrSet'
                ? a.getOrSet('k', async () => big('v3'))
                : a.getOrSetMany(['k'], async () => [big('v3')]).then((v) => v[0]);
            release();
            assert.equal(text(await older), 'v1', 'the older load answers the callers that joined it');
            assert.equal(
              text(await joined),
              'v2',
              `${next} after ${read} read v2 got the older load's value: it joined a load begun before that read`,
            );
            assert.equal(a.stats().invalidationsReceived, 0, "B's invalidation had not reached A");
            // Closed first: A's bus then closes at once, not after the held messages.
            await proxy.close();
            proxyClosed = true;
          } finally {
            if (!proxyClosed) await proxy.close();
            await Promise.all([a.close(), b.close()]);
          }
        });
  },
);
