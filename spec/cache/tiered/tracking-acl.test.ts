/**
 * Server-assisted invalidation (CLIENT TRACKING) under exactly the least-privilege ACL of
 * `aclRules({ tracking: true, … })` on a real standalone Redis: a tiered cache with tracking
 * (default mode with the Redis bus and lease, BCAST mode with tracking alone) becomes ready, an
 * outside `redis-cli SET` invalidates its L1, and `ACL LOG` stays empty. With any one of the
 * tracking rules taken away, `ready` rejects at once with a CacheError naming the refused command
 * (no hang, no retry storm: the refused command is retried backed off, and the ACL log counts
 * only a few attempts).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { aclRules } from '../../../lib/cache/redis/acl.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  createRedisLease,
  createRedisTracking,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { holdInL1, type OutsideWriter, outsideWriter, text, trackingRefusal } from './tracking-helpers.js';

const ADMIN = 'tracking-acl-admin-password';
const APP_PASSWORD = 'tracking-acl-app-password';
const PREFIX = 'app:';
const BUS = 'app-bus';
const LEASE = 'app-lease:';
const RULES = aclRules({
  keyPrefix: PREFIX,
  mode: 'standalone',
  busChannel: BUS,
  leasePrefix: LEASE,
  tracking: true,
});
/** Tracking alone: no bus channel, no lease keys. */
const TRACKING_RULES = aclRules({ keyPrefix: PREFIX, mode: 'standalone', tracking: true });
/** The rules only tracking needs (each is taken away in turn below). */
const TRACKING_ONLY = ['+client|tracking', '+client|trackinginfo', '+client|id', '&__redis__:invalidate'];
/** Generous: a refusal surfaces in milliseconds; only a hang would reach this. */
const BOUND_MS = 5000;

const bytes = (s: string) => Buffer.from(s);

describeWithServers(
  'tiered cache with CLIENT TRACKING under the least-privilege ACL (standalone)',
  skipRedis(),
  () => {
    let redis: RedisStandalone;
    let cli: OutsideWriter;
    const caches: TieredCache[] = [];
    const admin = (args: (string | number)[]) => redisCommand(redis.port, args, { password: ADMIN });

    before(async () => {
      redis = await startRedis({ password: ADMIN });
      cli = outsideWriter(redis.port, { password: ADMIN });
    });
    after(async () => {
      cli?.close();
      await Promise.allSettled(caches.map((c) => c.close()));
      await redis?.stop();
    });

    /** A tiered cache logged in as `user`, with tracking (and the Redis bus and lease unless `alone`). */
    function tiered(user: string, mode: 'default' | 'bcast', alone = false): TieredCache {
      const l2 = createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        username: user,
        password: APP_PASSWORD,
        keyPrefix: PREFIX,
        commandTimeout: 2000,
      });
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        tracking: createRedisTracking({ cache: l2, mode, heartbeat: 200 }),
        ...(alone
          ? {}
          : {
              bus: createRedisInvalidationBus({ client: l2.client, channel: BUS }),
              lease: createRedisLease({ client: l2.client, prefix: LEASE }),
            }),
        l1Ttl: 60_000,
      });
      caches.push(cache);
      return cache;
    }

    const setUser = (name: string, rules: readonly string[]) =>
      admin(['ACL', 'SETUSER', name, 'reset', 'on', `>${APP_PASSWORD}`, ...rules]);

    for (const mode of ['default', 'bcast'] as const) {
      const alone = mode === 'bcast';
      const rules = alone ? TRACKING_RULES : RULES;
      it(`${mode} mode${alone ? ', tracking alone' : ', with bus and lease'}: ready under exactly the rules; an outside redis-cli SET invalidates L1; no ACL denial`, async () => {
        const user = `app-${mode}`;
        await setUser(user, rules);
        await admin(['ACL', 'LOG', 'RESET']);
        console.log(`# ACL SETUSER ${user} on >… ${rules.join(' ')}`);
        const cache = tiered(user, mode, alone);
        await cache.ready;
        assert.equal(cache.stats().trackingConfirmed, 1);
        await cache.set('k', bytes('v0'), 60_000);
        for (let i = 1; i <= 20; i++) {
          assert.equal(await holdInL1(cache, 'k'), `v${i - 1}`);
          const n = cache.stats().trackingInvalidations;
          assert.equal(await cli.run(`SET ${PREFIX}k v${i}`), 'OK');
          await waitFor(() => cache.stats().trackingInvalidations > n, { what: 'the invalidation' });
          assert.equal(text(await cache.get('k')), `v${i}`);
        }
        // The loader (through the lease when there is one) runs under the same rules.
        assert.equal(text(await cache.getOrSet('loaded', async () => bytes('L'), 60_000)), 'L');
        await cache.delete('k');
        // Let a few heartbeats (PING, CLIENT TRACKINGINFO) run too.
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(cache.stats().trackingConfirmed, 1);
        const log = (await admin(['ACL', 'LOG'])) as unknown[];
        assert.deepEqual(log, [], `ACL denials: ${JSON.stringify(log)}`);
      });
    }

    for (const missing of TRACKING_ONLY) {
      it(`without ${missing}: ready rejects fast with a CacheError naming the refused command; retries back off`, async () => {
        const user = `app-no-${missing.replace(/\W+/g, '-')}`;
        await setUser(
          user,
          RULES.filter((r) => r !== missing),
        );
        await admin(['ACL', 'LOG', 'RESET']);
        const start = performance.now();
        const cache = tiered(user, 'default');
        const { err, ms } = await trackingRefusal(cache, BOUND_MS);
        assert.equal(err.code, 'backend');
        const command = missing.startsWith('&')
          ? 'SUBSCRIBE __redis__:invalidate'
          : missing.slice(1).replace('|', ' ').toUpperCase();
        assert.ok(err.message.includes(command), `${err.message} names ${command}`);
        assert.match(
          err.message,
          /redis tracking refused by the server .*NOPERM.*aclRules\(\{ tracking: true \}\)/,
        );
        assert.ok(!err.message.includes(APP_PASSWORD));
        console.log(`# surfaced: tracking without ${missing}: ${ms.toFixed(0)} ms — ${err.message}`);
        // The cache keeps working from L2 with L1 bypassed.
        await cache.set('x', bytes('v'), 60_000);
        assert.equal((await cache.getWithMeta('x'))?.source, 'l2');
        assert.equal((await cache.getWithMeta('x'))?.source, 'l2', 'L1 never trusted');
        // Retried backed off (50 ms doubling up to 1 s), not in a loop: over ~1 s only a few
        // refused attempts reach the server.
        await new Promise((r) => setTimeout(r, 1000));
        const log = (await admin(['ACL', 'LOG'])) as [string, number][][];
        const attempts = log.reduce((sum, entry) => sum + Number(entry[1]), 0);
        console.log(
          `# tracking without ${missing}: ${attempts} refused attempts in ~${(performance.now() - start).toFixed(0)} ms`,
        );
        assert.ok(attempts >= 1 && attempts < 30, `${attempts} refused attempts`);
        assert.equal(cache.stats().trackingConfirmed, 0);
      });
    }
  },
);
