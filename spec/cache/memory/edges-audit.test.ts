/**
 * Memory-cache edges found by an outside-in audit (each test failed before its fix): an injected
 * clock below zero, a tiny `numCounters`, and a newcomer that cannot fit beside the window.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createMemoryCache, createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';

describe('memory cache: clock below zero', () => {
  it('an expiry in [−1000, 0) ms is swept like any other: the sweep never removes a live entry', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    let now = -5_000;
    const evicted: string[] = [];
    const cache = createSyncMemoryCache<string>({
      maxCost: 100,
      cost: () => 1,
      now: () => now,
      onEvict: (key, _value, reason) => evicted.push(`${key}:${reason}`),
    });
    // Due at −500 ms: this bucket used to be numbered 0, the number that means "in no bucket", so
    // the delete left the slot linked in it, and the entry that reused the slot was swept.
    cache.set('a', 'x', { ttl: 4_500 });
    assert.equal(cache.delete('a'), true);
    assert.equal(cache.set('live', 'kept'), true);
    cache.set('b', 'y', { ttl: 3_500 }); // due at −1,500 ms
    now = 10_000;
    t.mock.timers.tick(1_000);
    assert.equal(cache.get('live'), 'kept', `the sweep removed a live entry: ${evicted.join()}`);
    assert.deepEqual(evicted, ['b:expired']);
    assert.equal(cache.size, 1);
    cache.close();
  });

  it('an entry due at exactly 0 ms expires then (0 is not "no expiry")', () => {
    let now = -1_000;
    const cache = createSyncMemoryCache<string>({ maxCost: 100, cost: () => 1, now: () => now });
    cache.set('z', 'v', { ttl: 1_000 });
    now = -1;
    assert.equal(cache.get('z'), 'v');
    now = 0;
    assert.equal(cache.has('z'), false);
    assert.equal(cache.get('z'), undefined, 'an entry due at 0 never expired');
    assert.equal(cache.stats().keysExpired, 1);
    cache.close();
  });

  it('a clock that answers NaN or Infinity is refused on a set with a TTL (invalid_ttl), not filed', async () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const cache = createSyncMemoryCache<string>({ maxCost: 100, cost: () => 1, now: () => bad });
      assert.throws(
        () => cache.set('k', 'v', { ttl: 1_000 }),
        (e: unknown) => e instanceof CacheError && e.code === 'invalid_ttl' && /clock/.test(e.message),
      );
      assert.equal(cache.size, 0);
      // Without a TTL the clock is not read: the set works.
      assert.equal(cache.set('k', 'v'), true);
      cache.close();
      const bytes = createMemoryCache({ maxCost: 100, now: () => bad });
      await assert.rejects(
        bytes.set('k', new Uint8Array(1), 1_000),
        (e: unknown) => e instanceof CacheError && e.code === 'invalid_ttl',
      );
      await bytes.close();
    }
  });
});

describe('memory cache: a clock that throws', () => {
  it('does not end the process from the sweep timer: one warning, the sweep resumes with the clock', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    let now = 1_000_000;
    let broken = false;
    const cache = createSyncMemoryCache<string>({
      maxCost: 10,
      cost: () => 1,
      now: () => {
        if (broken) throw new Error('clock used after its test');
        return now;
      },
    });
    cache.set('a', 'x', { ttl: 500 });
    cache.set('b', 'y');
    broken = true;
    const warnings: Error[] = [];
    const on = (w: Error) => warnings.push(w);
    process.on('warning', on);
    try {
      // It used to throw out of the timer callback (here: out of tick), an uncaught exception.
      t.mock.timers.tick(1_000);
      t.mock.timers.tick(1_000);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', on);
    }
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'HYPERION_MEMORY_SWEEP');
    assert.equal(ours.length, 1);
    assert.match(ours[0]!.message, /clock used after its test/);
    assert.equal(cache.size, 2);
    broken = false;
    now += 10_000;
    t.mock.timers.tick(1_000);
    assert.deepEqual(cache.keys(), ['b']);
    cache.close();
  });
});

describe('memory cache: TTLs under any clock (property)', () => {
  type Op =
    | { k: 'set'; key: number; ttl: number | undefined; cost: number }
    | { k: 'get'; key: number }
    | { k: 'del'; key: number }
    | { k: 'tick'; ms: number }
    | { k: 'sweep' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      k: fc.constant('set' as const),
      key: fc.nat(12),
      ttl: fc.option(
        fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.double({ min: 1e-6, max: 3_000, noNaN: true })),
        { nil: undefined },
      ),
      cost: fc.integer({ min: 0, max: 40 }),
    }),
    fc.record({ k: fc.constant('get' as const), key: fc.nat(12) }),
    fc.record({ k: fc.constant('del' as const), key: fc.nat(12) }),
    fc.record({
      k: fc.constant('tick' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 2_500 }), fc.double({ min: 0, max: 1_500, noNaN: true })),
    }),
    fc.record({ k: fc.constant('sweep' as const) }),
  );
  // Clocks from below zero (the slot [−1000, 0) in particular) to above it, whole and fractional.
  const startArb = fc.oneof(
    fc.integer({ min: -20_000, max: 20_000 }),
    fc.constantFrom(-1_000, -1, 0, -999.5, -2_000),
    fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  );

  it('never serves an expired value, the sweep removes only expired entries and leaves none behind', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    fc.assert(
      fc.property(
        startArb,
        fc.integer({ min: 20, max: 120 }),
        fc.array(opArb, { maxLength: 80 }),
        (start, maxCost, ops) => {
          let now = start;
          const gone = new Set<string>(); // keys evicted or refused by the policy
          const cache = createSyncMemoryCache<string>({
            maxCost,
            now: () => now,
            onEvict: (key, _value, reason) => {
              if (reason !== 'expired') gone.add(key);
            },
          });
          const model = new Map<string, { value: string; due: number }>();
          let version = 0;
          try {
            for (const op of ops) {
              if (op.k === 'set') {
                const key = `k${op.key}`;
                const value = `v${version++}`;
                gone.delete(key);
                if (cache.set(key, value, { ttl: op.ttl, cost: Math.min(op.cost, maxCost) }))
                  model.set(key, {
                    value,
                    due: op.ttl === undefined ? Number.POSITIVE_INFINITY : now + op.ttl,
                  });
                else model.delete(key);
              } else if (op.k === 'get') {
                const key = `k${op.key}`;
                const got = cache.get(key);
                const m = model.get(key);
                if (got !== undefined) {
                  assert.equal(got, m?.value, `get ${key}`);
                  assert.ok(m!.due > now, `get ${key} at ${now} served a value due at ${m!.due}`);
                } else model.delete(key);
              } else if (op.k === 'del') {
                cache.delete(`k${op.key}`);
                model.delete(`k${op.key}`);
              } else if (op.k === 'tick') now += op.ms;
              else {
                t.mock.timers.tick(1_000); // one run of the sweep timer
                for (const [key, m] of model) {
                  if (gone.has(key)) model.delete(key);
                  else if (m.due > now)
                    assert.ok(cache.has(key), `the sweep at ${now} removed ${key} (due ${m.due})`);
                }
              }
              assert.ok(cache.cost <= maxCost, `cost ${cache.cost} > maxCost ${maxCost}`);
            }
            // Far later, one sweep leaves only the entries without a TTL.
            now += 1e7;
            t.mock.timers.tick(1_000);
            const left = cache.keys().filter((key) => model.get(key)?.due !== Number.POSITIVE_INFINITY);
            assert.deepEqual(
              left,
              [],
              `entries with a TTL left after they all expired (clock from ${start})`,
            );
          } finally {
            cache.close();
          }
        },
      ),
      { numRuns: Number(process.env.HYPERION_TTL_CLOCK_RUNS ?? 500) },
    );
  });
});

describe('memory cache: numCounters 1–8', () => {
  it('the window is resized once per ≥ 1,024 requests, not on every request', () => {
    for (const numCounters of [1, 2, 8, 100]) {
      const cache = createSyncMemoryCache<number>({ maxCost: 50, numCounters, cost: () => 1 });
      // White box: count the hill climber's samples (one per window adjustment).
      const climber = (cache as unknown as { climber: { sample: (...a: unknown[]) => number } }).climber;
      const sample = climber.sample.bind(climber);
      let samples = 0;
      climber.sample = (...a: unknown[]) => {
        samples++;
        return sample(...a);
      };
      const requests = 10_240;
      for (let i = 0; i < requests; i++) {
        const k = String((i * 7_919) % 200);
        if (cache.get(k) === undefined) cache.set(k, i);
      }
      assert.ok(
        samples <= requests / 1_024,
        `numCounters ${numCounters}: ${samples} window adjustments in ${requests} requests`,
      );
      assert.ok(samples >= 1, `numCounters ${numCounters}: the window never adapts`);
      cache.close();
    }
  });
});

describe('memory cache: a newcomer that cannot fit beside the window', () => {
  it('is rejected (set → false, keysRejected, onEvict "rejected"), not a capacity eviction', () => {
    const events: string[] = [];
    const cache = createSyncMemoryCache<string>({
      maxCost: 10_000,
      cost: (v) => v.length,
      onEvict: (key, _value, reason, cost) => events.push(`${key}:${reason}:${cost}`),
    });
    assert.equal(cache.set('small', 'x'.repeat(100)), true); // the 1 % window holds it
    // Costlier than the window, and than what the window leaves (10,000 − 100), main empty.
    assert.equal(cache.set('big', 'y'.repeat(9_950)), false);
    assert.deepEqual(events, ['big:rejected:9950']);
    const s = cache.stats();
    assert.equal(s.keysRejected, 1);
    assert.equal(s.keysEvicted, 0);
    assert.equal(s.costEvicted, 0);
    assert.equal(cache.has('small'), true);
    assert.equal(cache.has('big'), false);
    assert.equal(cache.cost, 100);
    // held = keysAdded − keysEvicted − keysRejected − keysExpired (README)
    assert.equal(cache.size, s.keysAdded! - s.keysEvicted! - s.keysRejected! - s.keysExpired!);
    // One that fits beside the window still enters.
    assert.equal(cache.set('fits', 'z'.repeat(9_900)), true);
    assert.equal(cache.cost, 10_000);
    cache.close();
  });

  it('main entries are not evicted for a newcomer that cannot fit anyway', () => {
    const events: string[] = [];
    const cache = createSyncMemoryCache<string>({
      maxCost: 10_000,
      cost: (v) => v.length,
      onEvict: (key, _value, reason) => events.push(`${key}:${reason}`),
    });
    // Fill: the window (100) and main with 99 entries of 100.
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, 'x'.repeat(100));
    assert.equal(cache.cost, 10_000);
    // Requested often (hits count, misses do not), so it would beat every sampled victim; still it
    // cannot fit beside the window.
    for (let i = 0; i < 10; i++) {
      cache.set('huge', 'h');
      for (let j = 0; j < 3; j++) assert.equal(cache.get('huge'), 'h');
      cache.delete('huge');
    }
    cache.set('w', 'x'.repeat(100)); // the window holds 100 again
    assert.equal(cache.cost, 10_000);
    events.length = 0;
    const before = cache.size;
    assert.equal(cache.set('huge', 'h'.repeat(9_950)), false);
    assert.deepEqual(events, ['huge:rejected']);
    assert.equal(cache.size, before);
    cache.close();
  });
});

describe('memory cache: a loader that calls getOrSet of its own key', () => {
  // It used to wait for itself (documented) until loadTimeout; see recursive-load.test.ts.
  it('the inner call rejects with invalid_key, before any loadTimeout; the key loads again', async () => {
    const cache = createSyncMemoryCache<string>({ maxCost: 10, cost: () => 1, loadTimeout: 60_000 });
    const outer = cache.getOrSet('k', async () => `outer(${await cache.getOrSet('k', async () => 'inner')})`);
    await assert.rejects(outer, (e: unknown) => e instanceof CacheError && e.code === 'invalid_key');
    assert.equal(await cache.getOrSet('k', async () => 'fresh'), 'fresh');
    assert.equal(cache.get('k'), 'fresh');
    cache.close();
  });
});

// `set(key, value, 5000)` (the byte face's TTL argument, from JavaScript) read no `ttl` from the
// number and stored an entry that never expired, without a word; getOrSet likewise.
describe('sync memory cache: options that are not an object', () => {
  it('a number as set/getOrSet options is invalid_ttl naming { ttl }; nothing is stored', async () => {
    let now = 0;
    const cache = createSyncMemoryCache<string>({ maxCost: 100, now: () => now });
    const loose = cache as unknown as {
      set(k: string, v: string, o: unknown): boolean;
      getOrSet(k: string, l: () => Promise<string>, o: unknown): Promise<string>;
    };
    const isTtl = (e: unknown) =>
      e instanceof CacheError && e.code === 'invalid_ttl' && /\{ ttl \}/.test(e.message);
    assert.throws(() => loose.set('k', 'v', 5000), isTtl);
    assert.equal(cache.get('k'), undefined);
    await assert.rejects(
      loose.getOrSet('g', async () => 'v', 5000),
      isTtl,
    );
    assert.equal(cache.get('g'), undefined);
    assert.throws(
      () => loose.set('k', 'v', 'ttl'),
      (e: unknown) => e instanceof CacheError && e.code === 'invalid_value',
    );
    // No options, null and an object still work; the object's ttl is kept.
    assert.equal(loose.set('a', 'v', undefined), true);
    assert.equal(loose.set('b', 'v', null), true);
    assert.equal(cache.set('c', 'v', { ttl: 5000 }), true);
    now = 6000;
    assert.equal(cache.get('c'), undefined);
    assert.equal(cache.get('a'), 'v');
    cache.close();
  });
});

describe('memory cache: a cost function that closes the cache', () => {
  // The cost function runs inside `set`, after its closed check: the entry used to be stored in
  // the closed cache (size/cost 1, a later `get` of the key a hit).
  it('the set throws `closed` and stores nothing (sync face)', () => {
    const cache: ReturnType<typeof createSyncMemoryCache<string>> = createSyncMemoryCache<string>({
      maxCost: 100,
      cost: () => {
        cache.close();
        return 1;
      },
    });
    assert.throws(
      () => cache.set('k', 'v'),
      (err: unknown) => err instanceof CacheError && err.code === 'closed',
    );
    assert.equal(cache.size, 0);
    assert.equal(cache.cost, 0);
    assert.throws(
      () => cache.get('k'),
      (err: unknown) => err instanceof CacheError && err.code === 'closed',
    );
  });

  it('the byte face rejects with `closed`, and a getOrSet still serves its loaded value', async () => {
    const bytes: ReturnType<typeof createMemoryCache> = createMemoryCache({
      maxCost: 100,
      cost: () => {
        void bytes.close();
        return 1;
      },
    });
    await assert.rejects(
      bytes.set('k', new Uint8Array(2)),
      (err: unknown) => err instanceof CacheError && err.code === 'closed',
    );
    assert.equal(bytes.sync.size, 0);
    assert.equal(bytes.sync.cost, 0);

    const sync: ReturnType<typeof createSyncMemoryCache<string>> = createSyncMemoryCache<string>({
      maxCost: 100,
      cost: () => {
        sync.close();
        return 1;
      },
    });
    assert.equal(await sync.getOrSet('k', async () => 'loaded'), 'loaded');
    assert.equal(sync.size, 0);
    assert.equal(sync.cost, 0);
  });
});

describe('sync memory cache: peek (public since the lru-cache comparison)', () => {
  it('returns the live value without counting an access, and leaves an expired entry in place', () => {
    let now = 0;
    const cache = createSyncMemoryCache<string | null>({ maxCost: 10, cost: () => 1, now: () => now });
    cache.set('a', 'A');
    cache.set('n', null);
    cache.set('t', 'T', { ttl: 10 });
    const before = cache.stats();
    assert.equal(cache.peek('a'), 'A');
    assert.equal(cache.peek('n'), null);
    assert.equal(cache.peek('missing'), undefined);
    now = 20;
    assert.equal(cache.peek('t'), undefined);
    assert.equal(cache.size, 3, 'peek removes nothing');
    assert.deepEqual(cache.stats(), before, 'peek is not a read');
    cache.close();
    assert.throws(
      () => cache.peek('a'),
      (err: unknown) => err instanceof CacheError && err.code === 'closed',
    );
  });
});
