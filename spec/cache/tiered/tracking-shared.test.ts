/**
 * One tracker and the tiered caches that use it, on a real standalone Redis: a cache that starts
 * using a tracker that is already confirmed fills and serves its L1 like the first one; a tracker
 * closed while a cache still uses it (a shared tracker closed with another cache, or closed on its
 * own) stops that cache from trusting its L1 — it no longer hears invalidations; a second tracker
 * on the same client is refused.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { holdInL1, type OutsideWriter, outsideWriter, text } from './tracking-helpers.js';

let unique = 0;
const bytes = (s: string) => Buffer.from(s);

describeWithServers('tiered caches and the lifetime of their Redis tracker', skipRedis(), () => {
  let redis: RedisStandalone;
  let cli: OutsideWriter;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
    cli = outsideWriter(redis.port);
  });
  after(async () => {
    cli?.close();
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis?.stop();
  });

  function l2For(ns: string) {
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: `${ns}:`,
      commandTimeout: 1000,
    });
    closers.push(() => l2.close());
    return l2;
  }

  for (const mode of ['default', 'bcast'] as const) {
    it(`${mode}: a second cache on an already confirmed tracker is confirmed too and uses its L1`, async () => {
      const ns = `sh${++unique}`;
      const l2 = l2For(ns);
      const tracking = createRedisTracking({ cache: l2, mode, heartbeat: 200 });
      closers.push(() => tracking.close());
      const a = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        tracking,
        l1Ttl: 60_000,
      });
      await a.ready;
      const b = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        tracking,
        l1Ttl: 60_000,
      });
      await b.ready;
      assert.equal(b.stats().trackingConfirmed, 1, 'ready resolved, so tracking is confirmed for b too');
      await a.set('k', bytes('v1'), 60_000);
      assert.equal(await holdInL1(a, 'k'), 'v1');
      assert.equal(await holdInL1(b, 'k'), 'v1');
      // And both hear an outside write.
      assert.equal(await cli.run(`SET ${ns}:k v2`), 'OK');
      for (const c of [a, b]) {
        let seen: string | undefined;
        for (let i = 0; i < 400 && seen !== 'v2'; i++) {
          seen = text(await c.get('k'));
          if (seen !== 'v2') await new Promise((r) => setTimeout(r, 5));
        }
        assert.equal(seen, 'v2');
      }
    });
  }

  /** A logger keeping `level message` lines. */
  function lines() {
    const out: string[] = [];
    const at = (level: string) => (message: string) => void out.push(`${level} ${message}`);
    const logger: Logger = {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: () => logger,
    };
    return { logger, out };
  }

  it('a clean close of a tiered cache logs no tracking loss as a warning', async () => {
    // Every normal shutdown used to log "redis tracking: lost, L1 not trusted until confirmed
    // again" at warn level: the cache detaches before it closes its tracker, nothing was lost.
    const ns = `cc${++unique}`;
    const l2 = l2For(ns);
    const { logger, out } = lines();
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      tracking: createRedisTracking({ cache: l2, heartbeat: 200, logger }),
    });
    await cache.ready;
    await cache.set('k', bytes('v1'), 60_000);
    await cache.close();
    assert.deepEqual(
      out.filter((l) => l.startsWith('warn') || l.startsWith('error')),
      [],
      'a clean close logged a warning',
    );
    assert.ok(out.includes('info redis tracking: closed'), out.join('\n'));
  });

  it('a tracker closed while a cache still uses it: that cache stops serving (and filling) L1', async () => {
    const ns = `cl${++unique}`;
    const l2 = l2For(ns);
    const { logger, out } = lines();
    const tracking = createRedisTracking({ cache: l2, heartbeat: 200, logger });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      tracking,
      l1Ttl: 60_000,
    });
    closers.push(() => cache.close());
    await cache.ready;
    await cache.set('k', bytes('v1'), 60_000);
    assert.equal(await holdInL1(cache, 'k'), 'v1');
    await tracking.close();
    assert.ok(
      out.includes('warn redis tracking: lost, L1 not trusted until confirmed again'),
      'a cache still attached lost its invalidations: a warning',
    );
    // Nothing reports writes to this cache any more: an outside write must still be seen.
    assert.equal(await cli.run(`SET ${ns}:k v2`), 'OK');
    const r = await cache.getWithMeta('k');
    assert.equal(text(r?.value), 'v2');
    assert.equal(r?.source, 'l2');
    assert.equal((await cache.getWithMeta('k'))?.source, 'l2', 'not filled into L1 again');
    assert.equal(cache.stats().trackingConfirmed, 0);
  });

  it('closing one of two caches that share a tracker leaves the other correct (its L1 bypassed)', async () => {
    const ns = `sc${++unique}`;
    const l2a = l2For(ns);
    // The caches share the L2 client and its tracker (so closing a closes both).
    const tracking = createRedisTracking({ cache: l2a, heartbeat: 200 });
    const a = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: l2a,
      tracking,
      l1Ttl: 60_000,
    });
    await a.ready;
    const b = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: l2a,
      tracking,
      l1Ttl: 60_000,
    });
    await b.ready;
    closers.push(() => b.close());
    await b.set('k', bytes('v1'), 60_000);
    assert.equal(await holdInL1(b, 'k'), 'v1');
    await a.close();
    assert.equal(await cli.run(`SET ${ns}:k v2`), 'OK');
    // b's L2 client was a's and is closed now: b either answers from the L2 it can reach or fails,
    // but never serves its stale L1 copy.
    const r = await b.getWithMeta('k').catch((err: unknown) => err);
    assert.ok(!(r && typeof r === 'object' && 'source' in r && r.source === 'l1'), 'no stale L1 answer');
  });

  it('a second tracker for the same client is refused (they took the redirect from each other at every heartbeat); after close one can be made', async () => {
    // Before: both caches' trackers lost and retook trust ~10 times a second (heartbeat 100 ms),
    // each loss a window in which the other's invalidations went to the wrong subscriber.
    const ns = `two${++unique}`;
    const l2 = l2For(ns);
    const first = createRedisTracking({ cache: l2, heartbeat: 200 });
    assert.throws(() => createRedisTracking({ cache: l2, heartbeat: 200 }), ConfigError);
    assert.throws(() => createRedisTracking({ client: l2.client, keyPrefix: `${ns}:` }), ConfigError);
    const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, tracking: first });
    await cache.ready;
    await first.close();
    const second = createRedisTracking({ cache: l2, heartbeat: 200 });
    const again = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, tracking: second });
    closers.push(() => again.close());
    await again.ready;
    assert.equal(again.stats().trackingConfirmed, 1);
  });

  // Found from outside (/tmp/D10/s11.mts): a cache given a tracker already closed (with another
  // cache) rejected `ready` with ConfigError `config_invalid` listing no issue, where a closed bus
  // gives CacheError `closed`. Now both say `closed`.
  it('a cache given a tracker already closed: ready rejects with CacheError closed, as for a closed bus', async () => {
    const l2 = l2For(`shut${++unique}`);
    const tracking = createRedisTracking({ cache: l2 });
    await tracking.close();
    const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, tracking });
    closers.push(() => cache.close());
    await assert.rejects(cache.ready, (err: unknown) => {
      assert.ok(err instanceof CacheError, `expected CacheError, got ${String(err)}`);
      assert.equal(err.code, 'closed');
      return true;
    });
  });
});
