/**
 * A cost function is the caller's code, and it runs inside `getOrSet` when the loaded value is
 * priced, after the load has finished but before the value is stored. A write of the key it made
 * there (set, delete, clear) is later than the load; the load used to be taken out of flight
 * before the cost function ran, so nothing fenced it and the loaded value was stored over that
 * write ("a load never stores over a later write", README).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createMemoryCache,
  createSyncMemoryCache,
  type SyncMemoryCache,
} from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';

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

/**
 * An async cost function (from JavaScript: TypeScript refuses it) returns a promise. It was refused
 * as "received object", and when the promise rejected nobody could handle it: an unhandled
 * rejection, which ends the process under Node's default.
 */
describe('memory cache: an async cost function', () => {
  it('is refused as invalid_cost naming the Promise; its rejection is not left unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const cost = (async (value: string) => {
      if (value.startsWith('bad')) throw new Error('sizer failed');
      return 1;
    }) as unknown as (value: string) => number;
    const cache = createSyncMemoryCache<string>({ maxCost: 100, cost });
    const bytes = createMemoryCache({
      maxCost: 100,
      cost: cost as unknown as (value: Uint8Array) => number,
    });
    try {
      const promised = (e: unknown) =>
        e instanceof CacheError && e.code === 'invalid_cost' && /received a Promise/.test(e.message);
      assert.throws(() => cache.set('a', 'good'), promised);
      assert.throws(() => cache.set('b', 'bad'), promised);
      await assert.rejects(bytes.set('c', new TextEncoder().encode('bad')), promised);
      await assert.rejects(bytes.setMany([{ key: 'd', value: new TextEncoder().encode('bad') }]), promised);
      // getOrSet serves the loaded value uncached, with the one warning.
      assert.equal(await cache.getOrSet('e', () => 'bad value'), 'bad value');
      assert.equal(cache.size, 0);
      assert.equal(bytes.sync.size, 0);
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onUnhandled);
      process.off('warning', onWarning);
    }
    assert.deepEqual(unhandled, []);
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'HYPERION_MEMORY_INVALID_COST');
    assert.equal(ours.length, 1);
    assert.match(ours[0]!.message, /received a Promise/);
    cache.close();
    await bytes.close();
  });
});
