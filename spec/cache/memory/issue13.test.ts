/** The memory-cache items of issue 13 (1, 5, 6): each failed before the fix. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createMemoryCache,
  createSyncMemoryCache,
  type SyncMemoryCache,
} from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { deferred } from '../../harness/clock.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

describe('memory cache: issue 13 items 1, 5, 6', () => {
  it('item 1: a load does not overwrite a set that resolved while it ran', async () => {
    const cache = createMemoryCache({ maxCost: 1 << 20 });
    const release = deferred();
    const pending = cache.getOrSet('k', async () => {
      await release.promise;
      return enc('old');
    });
    await cache.set('k', enc('new'));
    release.resolve();
    assert.equal(dec(await pending), 'old');
    assert.equal(dec(await cache.get('k')), 'new');
  });

  it('item 1: a load does not put back a key deleted while it ran', async () => {
    const cache = createSyncMemoryCache<string>({ maxCost: 100, cost: () => 1 });
    const release = deferred();
    cache.set('k', 'before');
    cache.delete('k');
    const pending = cache.getOrSet('k', async () => {
      await release.promise;
      return 'old';
    });
    cache.delete('k');
    release.resolve();
    await pending;
    assert.equal(cache.get('k'), undefined);
  });

  it('item 1: a caller starting after a set does not join a load begun before it', async () => {
    const cache = createSyncMemoryCache<string>({ maxCost: 100, cost: () => 1 });
    const release = deferred();
    const first = cache.getOrSet('k', async () => {
      await release.promise;
      return 'old';
    });
    cache.set('k', 'new');
    cache.delete('k');
    const second = cache.getOrSet('k', async () => 'fresh');
    release.resolve();
    await first;
    assert.equal(await second, 'fresh');
  });

  it('item 5: clear() inside onEvict leaves the accounting exact', () => {
    let cache: SyncMemoryCache<string> | undefined;
    let cleared = false;
    cache = createSyncMemoryCache<string>({
      maxCost: 100,
      cost: () => 10,
      onEvict: () => {
        if (!cleared) {
          cleared = true;
          cache!.clear();
        }
      },
    });
    for (let i = 0; i < 40; i++) cache.set(`k${i}`, 'v');
    assert.equal(cache.cost, cache.size * 10, `cost ${cache.cost} for ${cache.size} entries`);
    for (let i = 0; i < 10; i++) cache.set(`z${i}`, 'v');
    assert.ok(cache.size >= 9, `capacity restored: ${cache.size} entries of cost 10 in 100`);
  });

  it('item 5: clear(), delete() or set() inside onEvict keeps cost and size those of the live entries', () => {
    // The hook used to run in the middle of an eviction: a clear() there was undone by the rest of
    // the eviction (cost 72 held by entries of cost 69, capacity lost for good).
    for (const call of ['clear', 'delete', 'set'] as const) {
      for (let every = 1; every <= 7; every++) {
        let cache: SyncMemoryCache<string> | undefined;
        let evictions = 0;
        cache = createSyncMemoryCache<string>({
          maxCost: 100,
          cost: (v) => v.length,
          onEvict: () => {
            evictions++;
            if (evictions % every !== 0) return;
            if (call === 'clear') cache!.clear();
            else if (call === 'delete') cache!.delete(`k${evictions % 60}`);
            else cache!.set(`k${evictions % 60}`, 'w'.repeat(1 + (evictions % 11)));
          },
        });
        for (let i = 0; i < 500; i++) {
          cache.set(`k${i % 60}`, 'v'.repeat(1 + (i % 13)));
          if (i % 3 === 0) cache.get(`k${(i * 7) % 60}`);
          let cost = 0;
          let live = 0;
          for (let j = 0; j < 60; j++) {
            const v = cache.get(`k${j}`);
            if (v !== undefined) {
              cost += v.length;
              live++;
            }
          }
          const where = `${call} every ${every} evictions, step ${i}`;
          assert.equal(cache.cost, cost, `${where}: cost`);
          assert.equal(cache.size, live, `${where}: size`);
          assert.ok(cache.cost <= 100, where);
        }
      }
    }
  });

  it('item 6: fractional costs do not drift (cost 0 after deleting everything)', () => {
    const cache = createSyncMemoryCache<string>({ maxCost: 1000 });
    for (let i = 0; i < 200; i++) cache.set(`k${i}`, 'v', { cost: 1.1 + (i % 7) * 0.3 });
    for (let i = 0; i < 200; i++) cache.delete(`k${i}`);
    assert.equal(cache.cost, 0);
  });

  it('item 6: a loader returning undefined is not cached as a value that is never served', async () => {
    const cache = createSyncMemoryCache<string | undefined>({ maxCost: 100, cost: () => 1 });
    await cache.getOrSet('k', async () => undefined).catch(() => undefined);
    assert.equal(cache.size, 0, 'nothing stored for undefined');
  });

  it('item 6: a cost function returning NaN does not reject the callers after the loader ran', async () => {
    const cache = createSyncMemoryCache<string>({ maxCost: 100, cost: () => Number.NaN });
    // Either the value is served uncached, or the misuse is reported before loading: never a
    // rejection after the loader's work was done.
    let loaded = false;
    const result = await cache
      .getOrSet('k', async () => {
        loaded = true;
        return 'v';
      })
      .then(
        (v) => v,
        (err: unknown) => err,
      );
    if (loaded) assert.equal(result, 'v');
    else assert.ok(result instanceof CacheError);
  });

  it('item 6: ttl null is treated alike by the sync and the async face', async () => {
    const sync = createSyncMemoryCache<Uint8Array>({ maxCost: 100 });
    const bytes = createMemoryCache({ maxCost: 100 });
    const syncOutcome = (() => {
      try {
        sync.set('k', enc('v'), { ttl: null as unknown as number });
        return 'ok';
      } catch (err) {
        return (err as CacheError).code;
      }
    })();
    const asyncOutcome = await bytes.set('k', enc('v'), null as unknown as number).then(
      () => 'ok',
      (err: CacheError) => err.code,
    );
    assert.equal(syncOutcome, asyncOutcome);
  });

  // Not reproduced on the current store (the window keeps at least one entry): kept as a guard.
  it('item 6: with maxCost below 100 a set on a fresh cache is followed by a hit', () => {
    for (const maxCost of [1, 5, 50, 99]) {
      const cache = createSyncMemoryCache<string>({ maxCost, cost: () => 1 });
      cache.set('k', 'v');
      assert.equal(cache.get('k'), 'v', `maxCost ${maxCost}`);
    }
  });

  it('item 6: with maxCost below 1 a value that fits is held (charged maxCost, not 1)', () => {
    for (const maxCost of [0.5, 0.99]) {
      const cache = createSyncMemoryCache<string>({ maxCost, cost: () => 0.25 });
      assert.equal(cache.set('k', 'v'), true, `maxCost ${maxCost}`);
      assert.equal(cache.get('k'), 'v', `maxCost ${maxCost}`);
      assert.equal(cache.cost, maxCost);
      cache.set('k2', 'v2');
      assert.equal(cache.size, 1, 'one entry at a time');
      assert.ok(cache.cost <= maxCost);
    }
  });
});
