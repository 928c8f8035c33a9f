/**
 * close() and the cross-instance loader lease, on real Redis (tiered audit 2). Seen from outside:
 * an instance closed while it loaded a key under the lease left `hyperion:lease:…` in Redis for the
 * lease's whole TTL (10 s by default; its release ran after the loader, on a closed client, and
 * failed), so another instance missing that key waited all of `leaseWait`, counted a lease
 * timeout, then loaded. close() now releases the leases the cache holds, and those it is taking,
 * before it closes L2.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisLease } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import type { LoaderLease } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
let unique = 0;

/** True once process `pid` is stopped (SIGSTOP taken effect: state `T` in /proc). */
const isStopped = (pid: number | undefined) =>
  /^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

describeWithServers('tiered lease: close() releases the leases it holds', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    await redis?.stop();
  });

  /** An instance on namespace `ns`; `wrap` may stand between the cache and the Redis lease. */
  const instance = (ns: string, wrap: (lease: LoaderLease) => LoaderLease = (l) => l): TieredCache => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `${ns}:` });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      // The Redis default (10 s): what a lease left behind costs the others.
      lease: wrap(createRedisLease({ client: l2.client, prefix: `${ns}:lease:` })),
      leaseWait: 3_000,
    });
    closers.push(() => cache.close());
    return cache;
  };
  const leaseKey = (ns: string, key: string) => `${ns}:lease:${key}`;
  const exists = async (key: string) => Number(await redisCommand(redis.port, ['EXISTS', key])) === 1;

  it('closed while loading under the lease: the lease is gone, another instance loads at once', async () => {
    const ns = `lc${++unique}`;
    const a = instance(ns);
    let deliver!: () => void;
    const slow = new Promise<void>((r) => {
      deliver = r;
    });
    const loading = a.getOrSet('k', async () => {
      await slow;
      return Buffer.from('from a');
    });
    loading.catch(() => {});
    await waitFor(() => exists(leaseKey(ns, 'k')), { timeoutMs: 3000, what: 'a to hold the lease' });
    await a.close();
    assert.equal(await exists(leaseKey(ns, 'k')), false, 'the lease was released by close()');
    deliver();
    await loading.catch(() => {});

    const b = instance(ns);
    let bLoads = 0;
    const started = performance.now();
    const value = await b.getOrSet('k', async () => {
      bLoads++;
      return Buffer.from('from b');
    });
    const waited = performance.now() - started;
    assert.equal(text(value), 'from b');
    assert.equal(bLoads, 1);
    assert.equal(b.stats().leaseTimeouts, 0, 'b did not wait out leaseWait');
    assert.ok(waited < 1_000, `b answered in ${waited.toFixed(0)} ms, not after leaseWait (3 s)`);
  });

  it('closed while the lease was being taken: close() waits for it and releases it, the loader is not called', async () => {
    const ns = `lc${++unique}`;
    let grant!: () => void;
    const granted = new Promise<void>((r) => {
      grant = r;
    });
    let asked = false;
    const a = instance(ns, (lease) => ({
      async acquire(key) {
        asked = true;
        // The SET NX reaches Redis only once the test lets it: close() has begun by then.
        await granted;
        return lease.acquire(key);
      },
    }));
    let loads = 0;
    const loading = a.getOrSet('k', async () => {
      loads++;
      return Buffer.from('from a');
    });
    loading.catch(() => {});
    await waitFor(() => asked, { timeoutMs: 3000, what: 'a to ask for the lease' });
    const closing = a.close();
    grant();
    await closing;
    assert.equal(await exists(leaseKey(ns, 'k')), false, 'the lease taken during close() was released');
    await assert.rejects(loading, (e: unknown) => e instanceof CacheError && e.code === 'closed');
    assert.equal(loads, 0, 'no load ran under a lease of a closed cache');
  });

  it('closed while Redis is stalled with the SET NX on its way: no lease once Redis resumes, no load', async (t) => {
    // Found from outside (redis-server SIGSTOPped while the acquire was on its way, then close()):
    // close() waited its bound for the acquire, closed L2, and once Redis resumed it ran the SET:
    // the lease stayed for its whole TTL, held by nobody, and the next instance waited out
    // leaseWait. close() now aborts the acquire, and the Redis lease sends its release right
    // behind the SET, on the same connection, before L2 closes.
    const ns = `lc${++unique}`;
    const server = redis.server.child;
    let stopped = false;
    t.after(() => {
      if (stopped) server.kill('SIGCONT');
    });
    let asked = false;
    const a = instance(ns, (lease) => ({
      async acquire(key, options) {
        // Redis answered the read; it stalls before the SET NX reaches it.
        server.kill('SIGSTOP');
        stopped = true;
        await waitFor(() => isStopped(server.pid), { timeoutMs: 3000, intervalMs: 5, what: 'redis stopped' });
        asked = true;
        return lease.acquire(key, options);
      },
    }));
    await a.get('warm-up');
    let loads = 0;
    const loading = a.getOrSet('k', async () => {
      loads++;
      return Buffer.from('from a');
    });
    loading.catch(() => {});
    await waitFor(() => asked, { timeoutMs: 5000, intervalMs: 5, what: 'a to send the SET NX' });
    await a.close();
    server.kill('SIGCONT');
    stopped = false;
    await assert.rejects(loading, (e: unknown) => e instanceof CacheError && e.code === 'closed');
    assert.equal(loads, 0, 'no load ran for a closed cache');
    assert.equal(await exists(leaseKey(ns, 'k')), false, 'no lease left in Redis once it resumed');
    const b = instance(ns);
    assert.equal(text(await b.getOrSet('k', async () => Buffer.from('from b'))), 'from b');
    assert.equal(b.stats().leaseTimeouts, 0, 'b did not wait out leaseWait');
  });

  it('a lease whose acquire itself calls close(): close() waits for that lease and releases it', async () => {
    // close() ran inside acquire, before the cache had recorded the lease as being taken: it found
    // nothing to wait for, the SET NX landed after it, and the lease stayed in Redis for its whole
    // TTL (10 s) while every other instance missing the key waited out leaseWait.
    const ns = `lc${++unique}`;
    let closing: Promise<void> | undefined;
    let a!: TieredCache;
    a = instance(ns, (lease) => ({
      acquire(key) {
        closing = a.close();
        return lease.acquire(key);
      },
    }));
    let loads = 0;
    const loading = a.getOrSet('k', async () => {
      loads++;
      return Buffer.from('from a');
    });
    await assert.rejects(loading, (e: unknown) => e instanceof CacheError && e.code === 'closed');
    assert.ok(closing, 'acquire ran');
    await closing;
    assert.equal(await exists(leaseKey(ns, 'k')), false, 'no lease left in Redis after close()');
    assert.equal(loads, 0, 'no load ran under a lease of a closed cache');
  });
});
