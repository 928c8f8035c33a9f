/**
 * The tiered cache against a real Redis (harness): coherence between instances over the Redis
 * invalidation bus, stampedes with and without the Redis lease, an outage (Redis killed and
 * restarted on the same port), and grace on real L2 entries.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisInvalidationBus } from '../../../lib/cache/redis/bus.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createRedisLease } from '../../../lib/cache/redis/lease.js';
import { decodeEnvelope } from '../../../lib/cache/tiered/envelope.js';
import {
  createTieredCache,
  type TieredCache,
  type TieredCacheOptions,
} from '../../../lib/cache/tiered/index.js';
import type { Bytes, Cache, InvalidationBus, LoaderLease } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { arrivals } from '../../harness/clock.js';
import { describeWithServers, portOpen, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { bytes, fakeClock, text } from './fakes.js';
import { startRedisOnPort } from './restart.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

let unique = 0;

describeWithServers('tiered cache on real Redis', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis?.stop();
  });

  /** One "app instance": its own memory L1, its own Redis connection, the shared bus channel. */
  function instance(
    ns: string,
    extra: Partial<TieredCacheOptions> & {
      withBus?: boolean;
      wrapL2?: (c: RedisCache) => Cache;
      port?: number;
    } = {},
  ): { cache: TieredCache; l2: RedisCache } {
    const { withBus = true, wrapL2, port = redis.port, ...options } = extra;
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${port}`],
      keyPrefix: `${ns}:`,
      commandTimeout: 1000,
    });
    const bus = withBus ? createRedisInvalidationBus({ client: l2.client, channel: `${ns}:inv` }) : undefined;
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: wrapL2 ? wrapL2(l2) : l2,
      bus: options.bus ?? bus,
      ...options,
    });
    closers.push(() => cache.close());
    return { cache, l2 };
  }

  it('B stops serving the old value from L1 as soon as the invalidation arrives', async () => {
    const ns = `coh${++unique}`;
    const { cache: a } = instance(ns, { instanceId: 'A' });
    const { cache: b } = instance(ns, { instanceId: 'B' });
    await Promise.all([a.ready, b.ready]);
    await a.set('k', bytes('v0'), 60_000);
    // A read that overlaps an invalidation of its key is (rightly) not cached: let this one land first.
    await waitFor(() => b.stats().invalidationsReceived === 1, { what: 'the first invalidation' });
    assert.equal(text(await b.get('k')), 'v0');
    const delays: number[] = [];
    for (let i = 1; i <= 50; i++) {
      assert.equal((await b.getWithMeta('k'))?.source, 'l1', 'B holds the previous value in L1');
      const received = b.stats().invalidationsReceived;
      await a.set('k', bytes(`v${i}`), 60_000);
      const written = performance.now();
      let polls = 0;
      for (;;) {
        const arrived = b.stats().invalidationsReceived > received;
        const seen = text(await b.get('k'));
        if (arrived) {
          assert.equal(seen, `v${i}`, 'after the invalidation, never the old value');
          delays.push(performance.now() - written);
          break;
        }
        assert.ok(seen === `v${i - 1}` || seen === `v${i}`, `unexpected ${seen}`);
        assert.ok(++polls < 20_000, 'invalidation never arrived');
        await new Promise((r) => setImmediate(r));
      }
    }
    console.log(
      `# invalidation delay after A.set resolved (50 writes): median ${median(delays).toFixed(3)} ms, max ${Math.max(...delays).toFixed(3)} ms`,
    );
    assert.equal(b.stats().invalidationsReceived, 51);
  });

  it('stress: concurrent writers and readers on both ends read only written values, never older than the last invalidation', async () => {
    const ns = `stress${++unique}`;
    const KEYS = ['s0', 's1', 's2', 's3'];
    const version = (b: Bytes | undefined) => (b === undefined ? -1 : Number(text(b)));
    /** Highest version whose L2 write completed (per key); writes per key are serialized below. */
    const inL2 = new Map<string, number>();
    const wrapL2 = (c: RedisCache): Cache => ({
      ...c,
      name: c.name,
      // Options pass on: the tiered cache's budget is the write's server-side deadline.
      async set(key, value, ttl, options) {
        const r = await c.set(key, value, ttl, options);
        const v = version(decodeEnvelope(value)?.value);
        inL2.set(key, Math.max(inL2.get(key) ?? -1, v));
        return r;
      },
    });
    /** Per instance and key: the L2 version at the moment the instance's last invalidation arrived. */
    const floors = { A: new Map<string, number>(), B: new Map<string, number>() };
    const observed = (who: 'A' | 'B', inner: InvalidationBus): InvalidationBus => ({
      publish: (m) => inner.publish(m),
      close: () => inner.close(),
      subscribe: (onInvalidation, onReconnect) =>
        inner.subscribe((m) => {
          // Only the invalidations the instance acts on (other instances' writes) raise its floor.
          // Its own write's echo may arrive after the other end's next write already landed in L2,
          // and the other end's invalidation is then still on its way: a floor taken at the echo
          // counted the reads in between (1,497 "violations" in one CI run, 2 in 12 loaded runs,
          // the same on the previous session's code).
          if (m.origin !== who) for (const k of m.keys ?? []) floors[who].set(k, inL2.get(k) ?? -1);
          onInvalidation(m);
        }, onReconnect),
    });
    const mk = (who: 'A' | 'B') => {
      const l2 = createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        keyPrefix: `${ns}:`,
        // Consistency, not latency, is under test: budgets a loaded machine does not run out of.
        commandTimeout: 3000,
      });
      const bus = observed(who, createRedisInvalidationBus({ client: l2.client, channel: `${ns}:inv` }));
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2: wrapL2(l2),
        bus,
        instanceId: who,
        l2Timeout: 2000,
      });
      closers.push(() => cache.close());
      return cache;
    };
    const ends = { A: mk('A'), B: mk('B') };
    await Promise.all([ends.A.ready, ends.B.ready]);

    let next = 0;
    const lock = new Map<string, Promise<void>>();
    const written = new Map<string, Set<number>>(KEYS.map((k) => [k, new Set<number>()]));
    let reads = 0;
    let writes = 0;
    let timedOutWrites = 0;
    let violations = 0;
    let l2FailedReads = 0;
    const deadline = performance.now() + 4_000;
    const rounds = 1_500;

    const writer = async (who: 'A' | 'B') => {
      for (let i = 0; i < rounds && performance.now() < deadline; i++) {
        const key = KEYS[(i * 7 + (who === 'A' ? 0 : 1)) % KEYS.length]!;
        // Writes to one key are serialized, so L2's last-writer order equals version order.
        const prev = lock.get(key) ?? Promise.resolve();
        const mine = prev.then(async () => {
          const v = ++next;
          written.get(key)!.add(v);
          try {
            await ends[who].set(key, bytes(String(v)), 60_000);
            writes++;
          } catch (err) {
            // A timed-out write is the documented outcome on an overloaded machine: it either
            // landed before the caller was told (the server-side deadline) or never lands, so the
            // next write to the key still follows it; L2's order stays the version order.
            if (!(err instanceof CacheError && err.code === 'timeout')) throw err;
            timedOutWrites++;
          }
        });
        lock.set(key, mine);
        await mine;
      }
    };
    const reader = async (who: 'A' | 'B', seed: number) => {
      for (let i = 0; i < rounds * 2 && performance.now() < deadline; i++) {
        const key = KEYS[(i + seed) % KEYS.length]!;
        const floor = floors[who].get(key) ?? -1;
        const l2Trouble = () => ends[who].stats().l2Errors + ends[who].stats().l2Skipped;
        const errorsBefore = l2Trouble();
        const v = version(await ends[who].get(key));
        reads++;
        if (v !== -1 && !written.get(key)!.has(v)) violations++;
        // A miss while L2 failed or was skipped by the open breaker (a timeout on a loaded machine) is the documented outage
        // fallback, not a stale read: only a value below the floor, or a miss with L2 healthy, is.
        const l2Failed = l2Trouble() !== errorsBefore;
        if (l2Failed) l2FailedReads++;
        if (v < floor && !(v === -1 && l2Failed)) {
          violations++;
          console.log(`# ${who} read ${key}=${v} below floor ${floor}`);
        }
      }
    };
    await Promise.all([
      writer('A'),
      writer('B'),
      reader('A', 0),
      reader('A', 1),
      reader('B', 2),
      reader('B', 3),
    ]);
    console.log(
      `# stress: ${writes} writes (${timedOutWrites} timed out), ${reads} reads, ${violations} violations, ${l2FailedReads} reads during an L2 failure; invalidations received A=${ends.A.stats().invalidationsReceived} B=${ends.B.stats().invalidationsReceived}; L1 hits A=${ends.A.stats().l1Hits} B=${ends.B.stats().l1Hits}`,
    );
    assert.equal(violations, 0);
    assert.ok(writes > 100 && reads > 100);
    assert.ok(l2FailedReads < reads / 10, `most reads reached L2 (${l2FailedReads} of ${reads} failed)`);
    assert.ok(ends.A.stats().invalidationsReceived > 0 && ends.B.stats().invalidationsReceived > 0);
  });

  for (const withLease of [true, false]) {
    it(`3 instances, 300 concurrent misses each, lease ${withLease ? 'on → about 1' : 'off → at most 3'} loader call(s)`, async () => {
      const ns = `lease${++unique}`;
      // With the lease, the holder's load lasts until both other instances were refused it.
      const refused = arrivals(withLease ? 2 : 0, 'two instances to be refused the lease');
      const countRefusals = (lease: LoaderLease): LoaderLease => ({
        async acquire(key) {
          const release = await lease.acquire(key);
          if (release === undefined) refused.arrive();
          return release;
        },
      });
      const caches = [0, 1, 2].map(() => {
        const l2 = createRedisCache({
          addresses: [`127.0.0.1:${redis.port}`],
          keyPrefix: `${ns}:`,
          commandTimeout: 1000,
        });
        const cache = createTieredCache({
          l1: createMemoryCache({ maxCost: 1 << 20 }),
          l2,
          lease: withLease
            ? countRefusals(createRedisLease({ client: l2.client, prefix: `${ns}:lease:`, ttl: 5_000 }))
            : undefined,
          leasePoll: 10,
        });
        closers.push(() => cache.close());
        return { cache, l2 };
      });
      // Connected before the race starts, so that all three really miss at once.
      await Promise.all(caches.map(({ l2 }) => l2.has('warmup')));
      let calls = 0;
      const loader = async () => {
        calls++;
        await refused.all;
        return bytes('v');
      };
      const all = await Promise.all(
        caches.flatMap(({ cache }) =>
          Array.from({ length: 300 }, () => cache.getOrSet('hot', loader, 60_000)),
        ),
      );
      assert.ok(all.every((v) => text(v) === 'v'));
      console.log(
        `# 3 instances × 300 concurrent misses, lease ${withLease ? 'on' : 'off'}: ${calls} loader call(s)`,
      );
      if (withLease) {
        assert.equal(calls, 1);
        assert.equal(
          caches.reduce((n, { cache }) => n + cache.stats().leaseWaits, 0),
          2,
        );
      } else {
        assert.ok(calls >= 1 && calls <= 3);
      }
    });
  }

  it('Redis killed mid-run: answers from L1/loader, the breaker opens, and closes after Redis returns', async () => {
    const own = await startRedis();
    let restarted: Awaited<ReturnType<typeof startRedisOnPort>> | undefined;
    closers.push(async () => {
      await own.stop();
      await restarted?.stop();
    });
    const ns = `outage${++unique}`;
    const L2_TIMEOUT = 100;
    const { cache } = instance(ns, {
      port: own.port,
      l2Timeout: L2_TIMEOUT,
      breaker: { failures: 3, cooldown: 300 },
    });
    await cache.ready;
    await cache.set('warm', bytes('w'), 60_000);
    assert.equal(text(await cache.getOrSet('warm', async () => bytes('x'), 60_000)), 'w');

    await own.server.kill();

    const durations: number[] = [];
    let loads = 0;
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      const warm = await cache.getOrSetWithMeta('warm', async () => bytes('x'), 60_000);
      const cold = await cache.getOrSetWithMeta(`cold${i}`, async () => {
        loads++;
        return bytes(`c${i}`);
      });
      durations.push(performance.now() - started);
      assert.equal(warm.source, 'l1');
      assert.equal(text(warm.value), 'w');
      assert.equal(cold.source, 'loader');
      assert.equal(text(cold.value), `c${i}`);
    }
    assert.equal(loads, 30);
    assert.equal(cache.breakerState(), 'open');
    const opened = cache.stats().breakerOpens;
    assert.ok(opened >= 1);
    console.log(
      `# Redis down: 30 × (L1 read + loader read) per iteration median ${median(durations).toFixed(2)} ms, max ${Math.max(...durations).toFixed(2)} ms (l2Timeout ${L2_TIMEOUT} ms); breaker opened ${opened}×, L2 calls skipped ${cache.stats().l2Skipped}`,
    );
    assert.equal(await portOpen(own.port), false);

    restarted = await startRedisOnPort(own.port);
    const closedAgain = await waitFor(
      async () => {
        await cache.get('probe');
        return cache.breakerState() === 'closed';
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the breaker to close after Redis returned' },
    );
    assert.ok(closedAgain);
    await cache.set('after', bytes('a'), 60_000);
    assert.equal(text(await cache.get('after')), 'a');
    await waitFor(() => cache.stats().busReconnects >= 1, {
      timeoutMs: 10_000,
      what: 'the bus to reconnect',
    });
    console.log(
      `# after restart: breaker ${cache.breakerState()}, bus reconnects ${cache.stats().busReconnects} (L1 cleared), l2Errors ${cache.stats().l2Errors}`,
    );
  });

  it('grace: an expired L2 entry is served stale only inside the grace window', async () => {
    const clock = fakeClock(Date.now());
    const ns = `grace${++unique}`;
    const { cache: a } = instance(ns, { withBus: false, now: clock.now, grace: 10_000 });
    await a.set('k', bytes('v1'), 1_000);
    clock.advance(3_000);
    // A second instance has no L1 copy: the stale value comes from the L2 envelope.
    const { cache: b } = instance(ns, { withBus: false, now: clock.now, grace: 10_000 });
    const failing = async (): Promise<Bytes> => {
      throw new Error('db down');
    };
    const r = await b.getOrSetWithMeta('k', failing, 1_000);
    assert.deepEqual(
      { v: text(r.value), source: r.source, stale: r.stale },
      { v: 'v1', source: 'stale', stale: true },
    );
    assert.equal(await b.get('k'), undefined, 'not fresh');
    clock.advance(9_000); // 12 s after the write: past 1 s ttl + 10 s grace
    await assert.rejects(b.getOrSet('k', failing, 1_000), /db down/);
    await assert.rejects(a.getOrSet('k', failing, 1_000), /db down/);
    const fresh = await b.getOrSetWithMeta('k', async () => bytes('v2'), 1_000);
    assert.equal(fresh.source, 'loader');
  });
});
