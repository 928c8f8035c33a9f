/**
 * Unit tests of the tiered cache's own logic against in-test fake levels (fakes.ts): read path,
 * singleflight across levels, batches, breaker, timeouts, grace, jitter, early refresh, lease,
 * coherence ordering. Real Redis: redis.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { decodeEnvelope } from '../../../lib/cache/tiered/envelope.js';
import { createTieredCache, type TieredCacheOptions } from '../../../lib/cache/tiered/index.js';
import type { LoaderLease } from '../../../lib/core/contracts.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { createSeededRandom } from '../../../lib/core/random.js';
import { createMetrics } from '../../../lib/metrics/prometheus/index.js';
import { type Deferred, deferred, within } from '../../harness/clock.js';
import { busHub, bytes, fakeCache, fakeClock, fakeLeases, text, tick } from './fakes.js';

function setup(extra: Partial<TieredCacheOptions> = {}) {
  const clock = fakeClock();
  const l1 = fakeCache('l1', clock.now);
  const l2 = fakeCache('l2', clock.now);
  const cache = createTieredCache({ l1, l2, now: clock.now, ...extra });
  return { clock, l1, l2, cache };
}

/** A loader that counts its calls in `.calls`. */
const loaderOf = (value: string) => {
  const fn = Object.assign(
    async () => {
      fn.calls++;
      return bytes(value);
    },
    { calls: 0 },
  );
  return fn;
};

describe('tiered cache: read path', () => {
  it('reads L1, then L2, then the loader, and fills L2 before L1', async () => {
    const { l1, l2, cache } = setup();
    const load = loaderOf('v1');
    const first = await cache.getOrSetWithMeta('k', load, 10_000);
    assert.deepEqual(
      { v: text(first.value), source: first.source, stale: first.stale },
      {
        v: 'v1',
        source: 'loader',
        stale: false,
      },
    );
    const order = [...l2.calls.map((c) => `l2 ${c}`), ...l1.calls.map((c) => `l1 ${c}`)];
    assert.ok(order.includes('l2 set k') && order.includes('l1 set k'));
    // Fill order: L2's set was issued before L1's (L1 was only read before that).
    assert.deepEqual(l1.calls, ['get k', 'set k']);

    const second = await cache.getOrSetWithMeta('k', load, 10_000);
    assert.equal(second.source, 'l1');
    await l1.delete('k');
    const third = await cache.getOrSetWithMeta('k', load, 10_000);
    assert.equal(third.source, 'l2');
    assert.equal(text(third.value), 'v1');
    assert.equal(load.calls, 1);
    const s = cache.stats();
    assert.deepEqual(
      { l1Hits: s.l1Hits, l2Hits: s.l2Hits, misses: s.misses, loaderCalls: s.loaderCalls, hits: s.hits },
      { l1Hits: 1, l2Hits: 1, misses: 1, loaderCalls: 1, hits: 2 },
    );
    assert.equal(s.hitRatio, 2 / 3);
  });

  it('stores an envelope with the deadlines in both levels', async () => {
    const { clock, l1, l2, cache } = setup({ grace: 5_000 });
    await cache.set('k', bytes('v'), 10_000);
    const env2 = decodeEnvelope(l2.store.get('k')!.value)!;
    assert.equal(env2.freshUntil, clock.now() + 10_000);
    assert.equal(env2.staleUntil, clock.now() + 15_000);
    assert.equal(text(env2.value), 'v');
    assert.equal(l2.ttls.get('k'), 15_000, 'L2 keeps the value through the grace window');
    assert.ok(decodeEnvelope(l1.store.get('k')!.value));
  });

  it('never lets the L1 copy outlive the L2 entry (l1Ttl is capped at the entry ttl)', async () => {
    const { clock, l1, l2, cache } = setup({ l1Ttl: 60_000 });
    await cache.set('short', bytes('v'), 1_000);
    assert.equal(l1.ttls.get('short'), 1_000);
    assert.equal(l2.ttls.get('short'), 1_000);

    const capped = setup({ l1Ttl: 100 });
    await capped.cache.set('k', bytes('v'), 10_000);
    assert.equal(capped.l1.ttls.get('k'), 100);
    assert.equal(capped.l2.ttls.get('k'), 10_000);
    capped.clock.advance(150);
    // The L1 copy is past its L1 freshness: L2 is asked again.
    const r = await capped.cache.getWithMeta('k');
    assert.equal(r?.source, 'l2');
    clock.advance(1);
  });

  it('fills L1 with the remaining life of an L2 entry, not a new full ttl', async () => {
    const { clock, l1, l2, cache } = setup();
    await cache.set('k', bytes('v'), 10_000);
    clock.advance(4_000);
    l1.store.clear();
    assert.equal(text(await cache.get('k')), 'v');
    assert.equal(l1.ttls.get('k'), 6_000);
    clock.advance(6_000);
    assert.equal(await cache.get('k'), undefined);
    assert.ok(l2.calls.length > 0);
  });

  it('serves one loader call to 1,000 concurrent misses, with one L2 read (singleflight spans the levels)', async () => {
    const { cache, l2 } = setup();
    let calls = 0;
    const called = deferred();
    const release = deferred();
    const loader = async () => {
      calls++;
      called.resolve();
      await release.promise;
      return bytes('v');
    };
    const callers = Array.from({ length: 1000 }, () => cache.getOrSet('hot', loader, 10_000));
    await called.promise;
    await tick(); // the fake levels answer in microtasks: by now every caller has joined the flight
    release.resolve();
    const all = await Promise.all(callers);
    assert.equal(calls, 1);
    assert.ok(all.every((b) => text(b) === 'v'));
    assert.equal(l2.calls.filter((c) => c === 'get hot').length, 1);
    assert.equal(cache.stats().misses, 1000);
  });

  it('counts a loader error once (loaderErrors) and writes it to neither level', async () => {
    // Sharing the error with every waiter: the Cache conformance suite.
    const { l1, l2, cache } = setup();
    const failing = async (): Promise<Uint8Array> => {
      throw new Error('db down');
    };
    await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrSet('k', failing)));
    assert.equal(l1.store.size + l2.store.size, 0);
    assert.equal(cache.stats().loaderErrors, 1);
  });

  it('counts a failing load as a miss for every caller, so hitRatio and the scraped miss count are not overstated', async () => {
    // Found by an outside-in audit: a getOrSet whose loader threw counted no miss at all (nor did
    // getOrSetWithMeta or getOrSetMany), so a cache whose loads all failed reported hitRatio 1 after
    // one hit, and cache_requests_total{result="miss"} missed those reads.
    const { cache } = setup();
    const metrics = createMetrics({ namespace: 'hyperion' });
    metrics.watchCache(cache);
    const failing = async (): Promise<Uint8Array> => {
      throw new Error('db down');
    };
    await cache.getOrSet('ok', loaderOf('v'));
    await cache.getOrSet('ok', loaderOf('v')); // 1 hit, 1 miss so far
    await Promise.allSettled(Array.from({ length: 3 }, () => cache.getOrSet('k', failing))); // 3 callers, 1 load
    await assert.rejects(cache.getOrSetWithMeta('k2', failing), /db down/);
    await assert.rejects(
      cache.getOrSetMany(['a', 'b'], async (): Promise<Uint8Array[]> => failing().then(() => [])),
      /db down/,
    );
    await assert.rejects(
      cache.getOrSet('bad', async () => 'not bytes' as never),
      /Uint8Array/,
    );
    const s = cache.stats();
    assert.deepEqual(
      { hits: s.hits, misses: s.misses, loaderCalls: s.loaderCalls, loaderErrors: s.loaderErrors },
      { hits: 1, misses: 1 + 3 + 1 + 2 + 1, loaderCalls: 1 + 1 + 1 + 1 + 1, loaderErrors: 4 },
    );
    assert.equal(s.hitRatio, 1 / 9);
    const body = (await metrics.render()).body;
    assert.deepEqual(
      body.split('\n').filter((l) => l.startsWith('hyperion_cache_requests_total{')),
      [
        'hyperion_cache_requests_total{cache="tiered",result="hit"} 1',
        'hyperion_cache_requests_total{cache="tiered",result="miss"} 8',
      ],
    );
    await metrics.close();
  });

  it('getOrSetMany counts a key asked for twice as two reads, as getMany does (loaded once)', async () => {
    // Found by an outside-in audit: getMany(['a', 'a']) counted two reads, getOrSetMany(['a', 'a'])
    // one — also when its load failed.
    const { cache } = setup();
    let loads = 0;
    const loadMany = async (keys: readonly string[]) => {
      loads++;
      return keys.map((k) => bytes(`v-${k}`));
    };
    const first = await cache.getOrSetMany(['a', 'b', 'a'], loadMany, 10_000);
    assert.deepEqual(first.map(text), ['v-a', 'v-b', 'v-a']);
    assert.deepEqual({ hits: cache.stats().hits, misses: cache.stats().misses }, { hits: 0, misses: 3 });
    await cache.getOrSetMany(['a', 'a', 'b'], loadMany, 10_000);
    assert.deepEqual({ hits: cache.stats().hits, misses: cache.stats().misses }, { hits: 3, misses: 3 });
    await cache.getMany(['a', 'a']);
    assert.deepEqual({ hits: cache.stats().hits, misses: cache.stats().misses }, { hits: 5, misses: 3 });
    await assert.rejects(
      cache.getOrSetMany(['x', 'x'], async () => {
        throw new Error('db down');
      }),
      /db down/,
    );
    assert.deepEqual({ hits: cache.stats().hits, misses: cache.stats().misses }, { hits: 5, misses: 5 });
    assert.equal(loads, 1);
  });

  it('treats a value without envelope in L2 as fresh and keeps it in L1 only for l1Ttl', async () => {
    const { l1, l2, cache } = setup({ l1Ttl: 500 });
    await l2.set('plain', bytes('raw'));
    assert.equal(text(await cache.get('plain')), 'raw');
    assert.equal(l1.ttls.get('plain'), 500);
    const noL1Ttl = setup();
    await noL1Ttl.l2.set('plain', bytes('raw'));
    assert.equal(text(await noL1Ttl.cache.get('plain')), 'raw');
    assert.equal(noL1Ttl.l1.store.size, 0, 'unknown expiry: not copied into L1');
  });

  it('works with the real memory cache as L1 (sync fast path)', async () => {
    const clock = fakeClock();
    const l1 = createMemoryCache({ maxCost: 1 << 20, now: clock.now });
    const l2 = fakeCache('l2', clock.now);
    const cache = createTieredCache({ l1, l2, now: clock.now });
    const load = loaderOf('v');
    await cache.getOrSet('k', load, 5_000);
    assert.equal((await cache.getOrSetWithMeta('k', load, 5_000)).source, 'l1');
    assert.equal(text(await cache.get('k')), 'v');
    assert.deepEqual((await cache.getMany(['k', 'nope'])).map(text), ['v', undefined]);
    assert.equal(await cache.has('k'), true);
    assert.equal(await cache.delete('k'), true);
    assert.equal(await cache.has('k'), false);
    await cache.close();
  });
});

describe('tiered cache: writes and batches', () => {
  it('set/delete/clear/setMany/getMany go through both levels', async () => {
    const { l1, l2, cache } = setup();
    assert.equal(await cache.set('a', bytes('1'), 10_000), true);
    await cache.setMany([
      { key: 'b', value: bytes('2'), ttl: 10_000 },
      { key: 'c', value: bytes('3') },
    ]);
    l1.store.delete('b');
    assert.deepEqual((await cache.getMany(['a', 'b', 'c', 'x'])).map(text), ['1', '2', '3', undefined]);
    assert.equal(l2.calls.at(-1), 'getMany b,x', 'one L2 round trip for the keys L1 lacked');
    assert.equal(await cache.delete('a'), true);
    assert.equal(await cache.has('a'), false);
    assert.equal(await cache.delete('a'), false);
    await cache.clear();
    assert.equal(l1.store.size + l2.store.size, 0);
    assert.deepEqual(await cache.getMany([]), []);
  });

  it('getOrSetMany: one L2 getMany for what L1 lacks, one loader call for what both lack', async () => {
    const { l1, l2, cache } = setup();
    await cache.set('a', bytes('A'), 10_000);
    await cache.set('b', bytes('B'), 10_000);
    l1.store.delete('b');
    l2.calls.length = 0;
    const asked: string[][] = [];
    const values = await cache.getOrSetMany(
      ['a', 'b', 'c', 'd', 'c'],
      async (keys) => {
        asked.push(keys);
        return keys.map((k) => bytes(k.toUpperCase()));
      },
      10_000,
    );
    assert.deepEqual(values.map(text), ['A', 'B', 'C', 'D', 'C']);
    assert.deepEqual(asked, [['c', 'd']]);
    assert.deepEqual(
      l2.calls.filter((c) => c.startsWith('getMany')),
      ['getMany b,c,d'],
    );
    assert.equal(text(await cache.get('d')), 'D');
    const s = cache.stats();
    assert.equal(s.loaderCalls, 1);
  });

  it('getOrSetMany shares per-key flights with concurrent single-key callers', async () => {
    const { cache } = setup();
    let single = 0;
    let many = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slowSingle = cache.getOrSet('x', async () => {
      single++;
      await gate;
      return bytes('X1');
    });
    await tick();
    const batch = cache.getOrSetMany(['x', 'y'], async (keys) => {
      many++;
      assert.deepEqual(keys, ['y'], 'x is already being loaded by another caller');
      return keys.map(() => bytes('Y'));
    });
    // A single caller arriving after the batch joins the batch's flight for y.
    const lateY = cache.getOrSet('y', async () => {
      throw new Error('must not run: y is in the batch');
    });
    release();
    assert.deepEqual((await batch).map(text), ['X1', 'Y']);
    assert.equal(text(await slowSingle), 'X1');
    assert.equal(text(await lateY), 'Y');
    assert.equal(single, 1);
    assert.equal(many, 1);
  });

  it('getOrSetMany rejects a loader returning the wrong number of values', async () => {
    const { cache } = setup();
    await assert.rejects(
      cache.getOrSetMany(['a', 'b'], async () => [bytes('only one')]),
      (e: unknown) => e instanceof CacheError && e.code === 'invalid_value',
    );
  });

  it('a failed L2 write rejects and leaves no L1 copy of the unsaved value', async () => {
    const { l1, l2, cache } = setup();
    await cache.set('k', bytes('old'), 10_000);
    l2.mode = 'error';
    await assert.rejects(cache.set('k', bytes('new'), 10_000), (e: unknown) => e instanceof CacheError);
    assert.equal(l1.store.has('k'), false);
    await assert.rejects(cache.delete('k'), (e: unknown) => e instanceof CacheError);
    await assert.rejects(
      cache.setMany([{ key: 'k', value: bytes('x') }]),
      (e: unknown) => e instanceof CacheError,
    );
    await assert.rejects(cache.clear(), (e: unknown) => e instanceof CacheError);
  });
});

describe('tiered cache: resilience', () => {
  it('bounds every L2 call by l2Timeout and answers from the loader', async () => {
    const { l2, cache } = setup({ l2Timeout: 30 });
    l2.mode = 'hang';
    const r = await cache.getOrSetWithMeta('k', async () => bytes('fresh'), 10_000);
    assert.equal(r.source, 'loader');
    assert.equal(text(r.value), 'fresh');
    // No L2 store after a read that did not answer (its budget is spent), but L1 holds the value.
    assert.equal((await cache.getOrSetWithMeta('k', async () => bytes('again'), 10_000)).source, 'l1');
    assert.equal(await cache.get('other'), undefined);
    const s = cache.stats();
    assert.equal(s.backgroundWrites, 0);
    assert.equal(s.l2Errors, 2);
    assert.equal(s.errors, 2);
  });

  it('opens the breaker after N consecutive failures, skips L2, then probes and closes', async () => {
    const { clock, l2, cache } = setup({ breaker: { failures: 3, cooldown: 1_000 } });
    l2.mode = 'error';
    assert.equal(cache.breakerState(), 'closed');
    for (let i = 0; i < 3; i++) assert.equal(await cache.get(`k${i}`), undefined);
    assert.equal(cache.breakerState(), 'open');
    assert.equal(cache.stats().breakerOpens, 1);
    const before = l2.calls.length;
    assert.equal(text(await cache.getOrSet('x', async () => bytes('from loader'))), 'from loader');
    assert.equal(l2.calls.length, before, 'open breaker: L2 not called');
    // The read was skipped; the store is not even tried once the read did not answer.
    assert.equal(cache.stats().l2Skipped, 1);

    clock.advance(1_000);
    assert.equal(cache.breakerState(), 'half-open');
    assert.equal(await cache.get('probe1'), undefined, 'failed probe');
    assert.equal(cache.breakerState(), 'open');
    assert.equal(cache.stats().breakerOpens, 2);

    clock.advance(1_000);
    l2.mode = 'ok';
    await l2.set('y', bytes('plain'));
    assert.equal(text(await cache.get('y')), 'plain');
    assert.equal(cache.breakerState(), 'closed');
    assert.equal(cache.stats().breakerOpens, 2);
  });

  it('does not count caller errors (bad value for L2) as an outage', async () => {
    const { l2, cache } = setup({ breaker: { failures: 1, cooldown: 1_000 } });
    l2.set = async () => {
      throw new CacheError('too_large', 'value too large');
    };
    await assert.rejects(cache.set('k', bytes('v')), (e: unknown) => (e as CacheError).code === 'too_large');
    assert.equal(cache.breakerState(), 'closed');
  });

  it('serves a stale value only inside the grace window when the loader fails', async () => {
    const { clock, cache } = setup({ grace: 5_000 });
    await cache.getOrSet('k', async () => bytes('v1'), 1_000);
    clock.advance(1_500);
    const failing = async () => {
      throw new Error('db down');
    };
    const stale = await cache.getOrSetWithMeta('k', failing, 1_000);
    assert.deepEqual(
      { v: text(stale.value), source: stale.source, stale: stale.stale },
      {
        v: 'v1',
        source: 'stale',
        stale: true,
      },
    );
    assert.equal(text(await cache.getOrSet('k', failing, 1_000)), 'v1');
    assert.equal(await cache.get('k'), undefined, 'plain get never returns stale values');
    clock.advance(4_500); // 6 000 ms after the write: past ttl + grace
    await assert.rejects(cache.getOrSet('k', failing, 1_000), /db down/);
    const s = cache.stats();
    assert.equal(s.staleServes, 2);
    assert.equal(s.loaderErrors, 3);
  });

  it('a successful loader beats a stale value', async () => {
    const { clock, cache } = setup({ grace: 5_000 });
    await cache.set('k', bytes('old'), 1_000);
    clock.advance(2_000);
    const r = await cache.getOrSetWithMeta('k', async () => bytes('new'), 1_000);
    assert.equal(r.source, 'loader');
    assert.equal(text(r.value), 'new');
  });

  it('getWithMeta serves the stale L1 copy within grace when L2 is down', async () => {
    const { clock, l2, cache } = setup({ grace: 5_000, breaker: false });
    await cache.set('k', bytes('v'), 1_000);
    clock.advance(2_000);
    l2.mode = 'error';
    const r = await cache.getWithMeta('k');
    assert.equal(r?.source, 'stale');
    assert.equal(r?.stale, true);
    clock.advance(10_000);
    assert.equal(await cache.getWithMeta('k'), undefined);
    l2.mode = 'ok';
    assert.equal(await cache.getWithMeta('k'), undefined);
  });

  it('getOrSet and getOrSetWithMeta serve the stale L1 copy within grace when L2 is down and the loader fails', async () => {
    // L1's copy is the only one left to serve: L2 does not answer. (Mutation pass: getOrSet
    // ignoring its L1 stale copy survived every test, L2's copy hiding it everywhere else.)
    const { clock, l2, cache } = setup({ grace: 5_000, breaker: false });
    await cache.set('k', bytes('v'), 1_000);
    clock.advance(2_000);
    l2.mode = 'error';
    const failing = async () => {
      throw new Error('db down');
    };
    assert.equal(text(await cache.getOrSet('k', failing, 1_000)), 'v');
    const r = await cache.getOrSetWithMeta('k', failing, 1_000);
    assert.deepEqual([text(r.value), r.source, r.stale], ['v', 'stale', true]);
    clock.advance(10_000); // past ttl + grace
    await assert.rejects(cache.getOrSet('k', failing, 1_000), /db down/);
    l2.mode = 'ok';
  });

  it('getOrSetMany serves stale values within grace when loadMany fails', async () => {
    const { clock, cache } = setup({ grace: 5_000 });
    await cache.set('a', bytes('A'), 1_000);
    clock.advance(2_000);
    const failing = async () => {
      throw new Error('down');
    };
    assert.deepEqual((await cache.getOrSetMany(['a'], failing, 1_000)).map(text), ['A']);
    await assert.rejects(cache.getOrSetMany(['a', 'b'], failing, 1_000), /down/);
  });

  it('jitter spreads TTLs uniformly within ± the fraction (fixed seed)', async () => {
    const { l2, cache } = setup({ jitter: 0.2, random: createSeededRandom(42) });
    const n = 2_000;
    for (let i = 0; i < n; i++) await cache.set(`k${i}`, bytes('v'), 10_000);
    const ttls = [...l2.ttls.values()].map(Number);
    const min = Math.min(...ttls);
    const max = Math.max(...ttls);
    assert.ok(min >= 8_000 && max <= 12_000, `range ${min}..${max}`);
    const mean = ttls.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(ttls.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    // Uniform on [8000, 12000]: mean 10 000, sd = 4000/√12 ≈ 1155.
    assert.ok(Math.abs(mean - 10_000) < 100, `mean ${mean}`);
    assert.ok(Math.abs(sd - 1155) < 60, `sd ${sd}`);
    const buckets = new Array(10).fill(0);
    for (const t of ttls) buckets[Math.min(9, Math.floor((t - 8_000) / 400))]++;
    assert.ok(
      buckets.every((b) => b > n / 10 / 2),
      `every tenth of the range is used: ${buckets}`,
    );
    const exact = setup();
    await exact.cache.set('k', bytes('v'), 10_000);
    assert.equal(exact.l2.ttls.get('k'), 10_000, 'no jitter by default');
  });

  it('early refresh reloads a hot key before it expires, one reload at a time', async () => {
    const { clock, cache } = setup({ earlyRefresh: 0.2, random: createSeededRandom(7) });
    let reloads = 0;
    let running = 0;
    let maxRunning = 0;
    // Each reload is held open until the test releases it, so that the hits of the same step see
    // it in flight; `done` tells the test it finished.
    let pending: { release: Deferred<void>; done: Deferred<void> } | undefined;
    const reload = async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const gate = { release: deferred(), done: deferred() };
      pending = gate;
      await gate.release.promise;
      running--;
      gate.done.resolve();
      return bytes(`v${++reloads}`);
    };
    await cache.getOrSet('hot', async () => bytes('v0'), 1_000);
    const sources = new Set<string>();
    // 20 simulated seconds of 50 hits every 50 ms; a reload started in a step finishes before the next.
    for (let step = 0; step < 400; step++) {
      clock.advance(50);
      const rs = await Promise.all(
        Array.from({ length: 50 }, () => cache.getOrSetWithMeta('hot', reload, 1_000)),
      );
      for (const r of rs) sources.add(r.source);
      const started = pending;
      pending = undefined;
      if (started) {
        started.release.resolve();
        await within(started.done.promise, 5000, 'the early reload to finish');
        await tick(); // its writes to the fake levels settle in microtasks
      }
    }
    assert.deepEqual([...sources], ['l1'], 'the hot key never missed');
    assert.equal(maxRunning, 1, 'never two reloads at once');
    // One reload per 800–1000 ms of simulated time: ~20–25 over 20 s, far fewer than the hits.
    assert.ok(reloads >= 17 && reloads <= 29, `reloaded about once per ttl: ${reloads}`);
    assert.equal(cache.stats().refreshes, reloads);
  });

  it('early refresh does not fire outside the window', async () => {
    const { clock, cache } = setup({ earlyRefresh: 0.1, random: () => 0 });
    const load = loaderOf('v');
    await cache.getOrSet('k', load, 1_000);
    clock.advance(899);
    await cache.getOrSet('k', load, 1_000);
    await tick();
    assert.equal(load.calls, 1);
    clock.advance(2);
    await cache.getOrSet('k', load, 1_000);
    await tick();
    assert.equal(load.calls, 2);
  });
});

describe('tiered cache: lease', () => {
  it('only the lease holder loads; the other instance waits and reads L2', async () => {
    const clock = fakeClock();
    const l2 = fakeCache('l2', clock.now);
    const leases = fakeLeases();
    const refused = deferred();
    // The holder's load lasts until the other instance has been refused the lease.
    const lease: LoaderLease = {
      async acquire(key) {
        const release = await leases.lease.acquire(key);
        if (release === undefined) refused.resolve();
        return release;
      },
    };
    const mk = () =>
      createTieredCache({
        l1: fakeCache('l1', clock.now),
        l2,
        now: clock.now,
        lease,
        leasePoll: 5,
      });
    const a = mk();
    const b = mk();
    let calls = 0;
    const loader = async () => {
      calls++;
      await within(refused.promise, 5000, 'the other instance to be refused the lease');
      return bytes('v');
    };
    const [ra, rb] = await Promise.all([
      a.getOrSetWithMeta('k', loader, 10_000),
      b.getOrSetWithMeta('k', loader, 10_000),
    ]);
    assert.equal(calls, 1);
    assert.deepEqual([ra.source, rb.source].sort(), ['l2', 'loader']);
    assert.equal(leases.held.size, 0, 'released');
    assert.equal(a.stats().leaseWaits + b.stats().leaseWaits, 1);
  });

  it('falls back to loading locally when the holder does not deliver within leaseWait', async () => {
    const clock = fakeClock();
    const leases = fakeLeases();
    await leases.lease.acquire('k'); // a holder that never finishes
    const cache = createTieredCache({
      l1: fakeCache('l1', clock.now),
      l2: fakeCache('l2', clock.now),
      now: clock.now,
      lease: leases.lease,
      leaseWait: 30,
      leasePoll: 10,
    });
    const r = await cache.getOrSetWithMeta('k', async () => bytes('mine'), 10_000);
    assert.equal(r.source, 'loader');
    assert.equal(cache.stats().leaseTimeouts, 1);
  });

  it('loads locally at once when the lease store fails', async () => {
    const cache = createTieredCache({
      l1: fakeCache('l1'),
      l2: fakeCache('l2'),
      lease: {
        acquire: async () => {
          throw new CacheError('unavailable', 'down');
        },
      },
      leaseWait: 60_000,
    });
    assert.equal((await cache.getOrSetWithMeta('k', async () => bytes('v'))).source, 'loader');
  });

  // A lease the server refuses (an ACL without the lease keys: NOPERM, code backend) is no L2
  // outage: every read and store is answered. Before, lease failures fed the breaker, and ten
  // concurrent misses opened it, skipping L2 for every key for the cool-down (found from outside
  // with aclRules() lacking the lease prefix). Here all ten refusals come in a row.
  it('lease refusals do not open the L2 breaker; the loads store their values in L2', async () => {
    const l2 = fakeCache('l2');
    const all = deferred();
    let asked = 0;
    const cache = createTieredCache({
      l1: fakeCache('l1'),
      l2,
      breaker: { failures: 5, cooldown: 60_000 },
      lease: {
        async acquire() {
          if (++asked === 10) all.resolve();
          await all.promise;
          throw new CacheError('backend', 'redis lease failed: NOPERM this user has no permissions');
        },
      },
    });
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    const got = await Promise.all(keys.map((k) => cache.getOrSet(k, async () => bytes(`v-${k}`), 10_000)));
    assert.deepEqual(
      got.map(text),
      keys.map((k) => `v-${k}`),
    );
    assert.equal(cache.breakerState(), 'closed');
    assert.equal(cache.stats().breakerOpens, 0);
    for (const k of keys) assert.ok(l2.store.has(k), `${k} stored in L2`);
  });

  // leaseWait is wall-clock time. Before, it was a number of polls (leaseWait / leasePoll), so each
  // poll's round trips came on top of it: a waiter 60 ms from Redis waited 7.4 s at leaseWait 1000
  // before loading itself. Here every poll takes at least leasePoll + 30 ms, so at most 3 can begin
  // within leaseWait 100; counting polls made 10.
  it('a waiter stops polling once leaseWait has passed, however slow each poll is', async () => {
    const leases = fakeLeases();
    await leases.lease.acquire('k'); // a holder that never delivers nor lets go
    const l2 = fakeCache('l2');
    l2.beforeRead = () => new Promise((r) => setTimeout(r, 30));
    const cache = createTieredCache({
      l1: fakeCache('l1'),
      l2,
      lease: leases.lease,
      leaseWait: 100,
      leasePoll: 10,
      l2Timeout: 5_000,
      breaker: false,
    });
    const r = await cache.getOrSetWithMeta('k', async () => bytes('mine'), 10_000);
    assert.equal(r.source, 'loader');
    assert.equal(cache.stats().leaseTimeouts, 1);
    const polls = l2.calls.filter((c) => c === 'get k').length - 1; // the miss's own read first
    assert.ok(polls >= 1 && polls <= 3, `${polls} polls within leaseWait 100`);
  });

  // One call, one budget: the lease's L2 calls count against it. Before, a lease acquire that
  // timed out left the store a whole budget of its own, so a getOrSet waited 2 × l2Timeout for
  // L2 (607 ms at l2Timeout 300, seen with Redis stopping after the read). Here the acquire never
  // answers and spends the budget: no L2 store may be started after it.
  it("a lease acquire that spends the call's L2 budget leaves none for the store", async () => {
    const l2 = fakeCache('l2');
    const cache = createTieredCache({
      l1: fakeCache('l1'),
      l2,
      l2Timeout: 30,
      breaker: false,
      lease: { acquire: () => new Promise(() => {}) },
    });
    const r = await cache.getOrSetWithMeta('k', async () => bytes('v'), 10_000);
    assert.equal(r.source, 'loader');
    assert.equal(text(r.value), 'v');
    assert.deepEqual(l2.calls, ['get k'], 'no L2 store after the lease spent the budget');
    assert.equal(cache.stats().backgroundWrites, 0);
  });

  // A Node timer may fire a little before performance.now() says its delay passed (libuv's loop
  // clock is coarse and truncated to the ms): the CI run of stop 47 sent the store above with the
  // 1-2 ms the acquire's early timeout seemed to leave. Timers here fire 3 ms early on purpose.
  it('a lease acquire cut by the budget leaves no store even when its timer fires early', async () => {
    const l2 = fakeCache('l2');
    const cache = createTieredCache({
      l1: fakeCache('l1'),
      l2,
      l2Timeout: 40,
      breaker: false,
      lease: { acquire: () => new Promise(() => {}) },
    });
    const realSetTimeout = globalThis.setTimeout;
    const early = ((fn: () => void, ms?: number) =>
      realSetTimeout(fn, typeof ms === 'number' && ms > 5 ? ms - 3 : ms)) as typeof setTimeout;
    globalThis.setTimeout = early;
    try {
      const r = await cache.getOrSetWithMeta('k', async () => bytes('v'), 10_000);
      assert.equal(r.source, 'loader');
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    assert.deepEqual(l2.calls, ['get k'], 'no L2 store after the lease spent the budget');
    assert.equal(cache.stats().backgroundWrites, 0);
  });
});

describe('tiered cache: coherence', () => {
  function pair(extra: Partial<TieredCacheOptions> = {}) {
    const clock = fakeClock();
    const hub = busHub();
    const l2 = fakeCache('l2', clock.now);
    const a = createTieredCache({
      l1: fakeCache('a1', clock.now),
      l2,
      now: clock.now,
      bus: hub.bus(),
      instanceId: 'A',
      ...extra,
    });
    const b = createTieredCache({
      l1: fakeCache('b1', clock.now),
      l2,
      now: clock.now,
      bus: hub.bus(),
      instanceId: 'B',
      ...extra,
    });
    return { clock, hub, l2, a, b };
  }

  it('a write on one instance drops the key from the other L1s; own messages are ignored', async () => {
    const { hub, a, b } = pair();
    await Promise.all([a.ready, b.ready]);
    await a.set('k', bytes('v1'), 10_000);
    assert.equal(text(await b.get('k')), 'v1');
    assert.equal((await b.getWithMeta('k'))?.source, 'l1');
    await a.set('k', bytes('v2'), 10_000);
    assert.deepEqual(hub.published.at(-1), { origin: 'A', keys: ['k'] }, 'key only, never the value');
    assert.equal(text(await b.get('k')), 'v2');
    assert.equal((await a.getWithMeta('k'))?.source, 'l1', 'A kept its own fresh copy');
    await a.delete('k');
    assert.equal(await b.get('k'), undefined);
    await b.set('j', bytes('x'));
    await a.get('j');
    await b.clear();
    assert.equal(await a.get('j'), undefined);
    assert.equal(a.stats().invalidationsReceived, 2, 'set j + clear from B');
    assert.equal(b.stats().invalidationsReceived, 3, 'set, set, delete from A');
    assert.equal(a.stats().invalidationsSent, 3);
  });

  it('clears L1 after a bus reconnect', async () => {
    const { hub, a, b } = pair();
    await a.set('k', bytes('v'), 10_000);
    await b.get('k');
    assert.equal((await b.getWithMeta('k'))?.source, 'l1');
    hub.reconnectAll();
    assert.equal((await b.getWithMeta('k'))?.source, 'l2');
    assert.equal(b.stats().busReconnects, 1);
  });

  it('a read in flight during an invalidation does not put the old value back into L1', async () => {
    const { l2, a, b } = pair();
    await a.set('k', bytes('old'), 10_000);
    // B starts reading L2 (gets "old"); while the reply is on its way, A writes "new".
    let raced = false;
    l2.beforeRead = async (key) => {
      if (key !== 'k' || raced) return;
      raced = true;
      l2.beforeRead = undefined;
      const snapshot = l2.store.get('k')!;
      await a.set('k', bytes('new'), 10_000);
      l2.store.set('__old', snapshot);
    };
    // The fake returns what is stored after the hook: emulate the old reply by swapping back.
    const realGet = l2.get;
    l2.get = async (key) => {
      const v = await realGet(key);
      const old = l2.store.get('__old');
      if (key === 'k' && old) {
        l2.store.delete('__old');
        return old.value;
      }
      return v;
    };
    assert.equal(text(await b.get('k')), 'old', 'the racing read itself returns what it read');
    l2.get = realGet;
    const next = await b.getWithMeta('k');
    assert.equal(next?.source, 'l2', 'the old value was not cached in L1');
    assert.equal(text(next?.value), 'new');
  });

  it('a reader arriving after an invalidation does not join the older flight', async () => {
    const { l2, a, b } = pair();
    await a.set('k', bytes('v1'), 10_000);
    // Hold the early reader's L2 read open until the late reader is done.
    const reading = deferred();
    const release = deferred();
    l2.beforeRead = async () => {
      l2.beforeRead = undefined;
      reading.resolve();
      await release.promise;
    };
    const early = b.getOrSet('k', async () => bytes('loaded'));
    await within(reading.promise, 5000, "the early reader's L2 read");
    await a.set('k', bytes('v2'), 10_000);
    const late = await within(
      b.getOrSet('k', async () => bytes('loaded')),
      5000,
      'the late reader (it must not wait for the older flight)',
    );
    assert.equal(text(late), 'v2');
    release.resolve();
    assert.ok(['v1', 'v2'].includes(text(await early)!));
  });
});

describe('tiered cache: misuse and lifecycle', () => {
  it('rejects bad options with one ConfigError naming every field', () => {
    assert.throws(
      () =>
        createTieredCache({
          l1: {} as never,
          l2: fakeCache('l2'),
          ttl: -1,
          jitter: 2,
          breaker: { failures: 0 },
          l2Timeout: 0,
          now: 5 as never,
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(
          e.issues.map((i) => i.path),
          ['l1', 'ttl', 'l2Timeout', 'jitter', 'now', 'breaker.failures'],
        );
        return true;
      },
    );
    assert.throws(() => createTieredCache(null as never), ConfigError);
    const same = fakeCache('x');
    assert.throws(() => createTieredCache({ l1: same, l2: same }), ConfigError);
  });

  it('rejects a loader that is not a function, and keys for getOrSetMany that are not an array', async () => {
    // Bad keys, ttls and values of the Cache contract: the conformance suite.
    const { cache } = setup();
    const code = (c: string) => (e: unknown) => e instanceof CacheError && e.code === c;
    await assert.rejects(cache.getOrSet('k', 'nope' as never), code('invalid_value'));
    await assert.rejects(
      cache.getOrSetMany('k' as never, async () => []),
      code('invalid_key'),
    );
  });

  it('close() closes bus, L2 and L1 once, however often it is called', async () => {
    const hub = busHub();
    let closes = 0;
    const l1 = fakeCache('l1');
    const l2 = fakeCache('l2');
    l1.close = async () => {
      closes++;
    };
    l2.close = async () => {
      closes++;
    };
    const cache = createTieredCache({ l1, l2, bus: hub.bus() });
    await cache.ready;
    assert.equal(hub.endpoints.size, 1);
    await Promise.all([cache.close(), cache.close()]);
    await cache.close();
    assert.equal(closes, 2);
    assert.equal(hub.endpoints.size, 0);
  });
});
