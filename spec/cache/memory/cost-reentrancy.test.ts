/**
 * A cost function is the caller's code, and it runs inside `getOrSet` when the loaded value is
 * priced, after the load has finished but before the value is stored. A write of the key it made
 * there (set, delete, clear) is later than the load; the load used to be taken out of flight
 * before the cost function ran, so nothing fenced it and the loaded value was stored over that
 * write ("a load never stores over a later write", README).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSyncMemoryCache, type SyncMemoryCache } from '../../../lib/cache/memory/index.js';

type Write = (cache: SyncMemoryCache<string>, key: string) => void;

const writes: [string, Write, string | undefined][] = [
  ['set', (c, k) => c.set(k, 'written'), 'written'],
  ['delete', (c, k) => c.delete(k), undefined],
  ['clear', (c) => c.clear(), undefined],
];

describe('memory cache: a cost function that writes the key it prices', () => {
  for (const [name, write, expected] of writes) {
    it(`${name}: the loaded value is served, not stored over the write`, async () => {
      let cache!: SyncMemoryCache<string>;
      let priced = 0;
      cache = createSyncMemoryCache<string>({
        maxCost: 100,
        cost: (value, key) => {
          if (value === 'loaded') {
            priced++;
            write(cache, key);
          }
          return 1;
        },
      });
      assert.equal(await cache.getOrSet('k', () => 'loaded'), 'loaded');
      assert.equal(priced, 1);
      assert.equal(cache.peek('k'), expected);
      assert.equal(cache.size, expected === undefined ? 0 : 1);
      // The next caller reads what the write left, or loads anew.
      assert.equal(await cache.getOrSet('k', () => 'again'), expected ?? 'again');
      cache.close();
    });
  }

  it('a cost function that only reads leaves the value stored', async () => {
    let cache!: SyncMemoryCache<string>;
    cache = createSyncMemoryCache<string>({
      maxCost: 100,
      cost: (_value, key) => (cache.has(key) ? 2 : 1),
    });
    assert.equal(await cache.getOrSet('k', () => 'loaded'), 'loaded');
    assert.equal(cache.peek('k'), 'loaded');
    assert.equal(cache.cost, 1);
    cache.close();
  });
});
