/**
 * Memory-cache defects found by an outside-in audit (each test failed before its fix): a `setMany`
 * refused half-way, and a throwing cost function rejecting the callers of a load that succeeded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache, createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

const rejectsWith = (p: Promise<unknown>, code: string) =>
  assert.rejects(p, (e: unknown) => e instanceof CacheError && e.code === code);

describe('memory cache: outside-in audit', () => {
  it('setMany with a value costlier than maxCost is refused whole: no entry before it is stored', async () => {
    const cache = createMemoryCache({ maxCost: 1000 });
    await rejectsWith(
      cache.setMany([
        { key: 'a', value: enc('fits') },
        { key: 'b', value: new Uint8Array(2000) },
        { key: 'c', value: enc('fits too') },
      ]),
      'too_large',
    );
    assert.equal(await cache.get('a'), undefined, 'the entry before the refused one was stored');
    assert.equal(await cache.get('c'), undefined);
    assert.equal(cache.sync.size, 0);
    assert.equal(cache.stats?.().keysAdded, 0);
    // A batch that fits is stored whole, in order (the last of duplicate keys wins).
    await cache.setMany([
      { key: 'a', value: enc('1') },
      { key: 'a', value: enc('2') },
      { key: 'b', value: enc('3'), ttl: 60_000 },
    ]);
    assert.deepEqual((await cache.getMany(['a', 'b'])).map(dec), ['2', '3']);
  });

  it('setMany with an unusable cost (cost function) is refused whole, the cost function runs once per entry', async () => {
    let calls = 0;
    const cache = createMemoryCache({
      maxCost: 100,
      cost: (v) => {
        calls++;
        return dec(v) === 'bad' ? Number.NaN : 1;
      },
    });
    await rejectsWith(
      cache.setMany([
        { key: 'a', value: enc('ok') },
        { key: 'b', value: enc('bad') },
      ]),
      'invalid_cost',
    );
    assert.equal(await cache.get('a'), undefined);
    calls = 0;
    await cache.setMany([
      { key: 'a', value: enc('x') },
      { key: 'b', value: enc('y') },
    ]);
    assert.equal(calls, 2);
    assert.equal(cache.sync.cost, 2);
  });

  it('a cost function that throws does not reject the callers of a load that succeeded; the value is not cached', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(String(w.code));
    process.on('warning', onWarning);
    try {
      const cache = createSyncMemoryCache<string>({
        maxCost: 100,
        cost: () => {
          throw new Error('cost unknown');
        },
      });
      let loads = 0;
      const loader = async () => {
        loads++;
        return 'v';
      };
      const results = await Promise.allSettled([cache.getOrSet('k', loader), cache.getOrSet('k', loader)]);
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? r.value : `rejected: ${String(r.reason)}`)),
        ['v', 'v'],
      );
      assert.equal(loads, 1);
      assert.equal(cache.size, 0, 'not cached');
      // A direct set still reports the cost function's error to its caller.
      assert.throws(() => cache.set('k', 'v'), /cost unknown/);
      await new Promise((r) => setImmediate(r));
      assert.ok(warnings.includes('HYPERION_MEMORY_INVALID_COST'));
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('getOrSet with a per-call cost stores the value at that cost (the cost function is not asked)', async () => {
    let calls = 0;
    const cache = createSyncMemoryCache<string>({
      maxCost: 100,
      cost: () => {
        calls++;
        return 1;
      },
    });
    assert.equal(await cache.getOrSet('k', async () => 'v', { cost: 7, ttl: 60_000 }), 'v');
    assert.equal(cache.get('k'), 'v');
    assert.equal(cache.cost, 7);
    assert.equal(calls, 0);
  });

  it('set with ifEquals is a write: it counts no read in the stats, and an expired value never matches', async () => {
    // Found by an outside-in audit: the compare read the current value through get(), so each
    // compare-and-set counted a hit or a miss (and an access for admission) — a tiered cache over a
    // memory L2 stores with ifEquals, inflating the L2's hit ratio.
    let t = 1_000;
    const cache = createMemoryCache({ maxCost: 1000, now: () => t });
    await cache.set('k', enc('v'));
    assert.equal(await cache.set('k', enc('w'), undefined, { ifEquals: enc('v') }), true);
    assert.equal(await cache.set('k', enc('x'), undefined, { ifEquals: enc('v') }), false);
    assert.equal(await cache.set('absent', enc('x'), undefined, { ifEquals: enc('v') }), false);
    assert.deepEqual({ hits: cache.stats?.().hits, misses: cache.stats?.().misses }, { hits: 0, misses: 0 });
    await cache.set('e', enc('old'), 10);
    t += 10;
    assert.equal(await cache.set('e', enc('new'), undefined, { ifEquals: enc('old') }), false, 'expired');
    assert.equal(dec(await cache.get('k')), 'w');
    assert.deepEqual({ hits: cache.stats?.().hits, misses: cache.stats?.().misses }, { hits: 1, misses: 0 });
    await cache.close();
  });

  it('the sync face refuses to store undefined (invalid_value): get could not tell it from a miss', () => {
    // Found by an outside-in audit: set('u', undefined) stored an entry; get('u') then answered
    // undefined — a miss to the caller — but counted a hit, has('u') said true, and getOrSet('u')
    // called its loader although the key "held a value". A loader's undefined was already not stored.
    const cache = createSyncMemoryCache<string | undefined | null>({ maxCost: 100 });
    assert.throws(
      () => cache.set('u', undefined),
      (e: unknown) => e instanceof CacheError && e.code === 'invalid_value',
    );
    assert.equal(cache.has('u'), false);
    assert.equal(cache.get('u'), undefined);
    assert.deepEqual(
      { hits: cache.stats().hits, misses: cache.stats().misses, size: cache.size },
      {
        hits: 0,
        misses: 1,
        size: 0,
      },
    );
    // null is a value like any other: stored, served, counted as a hit.
    assert.equal(cache.set('n', null), true);
    assert.equal(cache.get('n'), null);
    assert.equal(cache.stats().hits, 1);
    cache.close();
  });

  it('sync getOrSet refuses a non-function loader, a bad ttl or cost before the lookup: a hit does not hide them', async () => {
    // Found by an outside-in audit: getOrSet('miss', 5) resolved undefined (the byte face and every
    // other cache reject invalid_value), getOrSet('hit', 5) resolved the cached value, and a bad
    // ttl or cost was refused on a miss but let through on a hit.
    const cache = createSyncMemoryCache<string>({ maxCost: 100 });
    cache.set('hit', 'v');
    for (const key of ['hit', 'miss']) {
      await rejectsWith(cache.getOrSet(key, 5 as never), 'invalid_value');
      await rejectsWith(
        cache.getOrSet(key, async () => 'x', { ttl: -1 }),
        'invalid_ttl',
      );
      await rejectsWith(
        cache.getOrSet(key, async () => 'x', { cost: Number.NaN }),
        'invalid_cost',
      );
    }
    assert.equal(cache.has('miss'), false);
    assert.equal(await cache.getOrSet('hit', async () => 'x', { ttl: 1000, cost: 1 }), 'v');
    cache.close();
  });
});
