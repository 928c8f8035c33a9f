/**
 * A getOrSet loader that calls getOrSet for its own key (directly, or through the loader of
 * another key) joined the load it ran in: the two waited for each other for good (with the default
 * `loadTimeout`, off). Such a call made in the loaders' synchronous part (before their first
 * `await`) now rejects at once with `CacheError('invalid_key')`, saying why; a caller outside the
 * loader still joins the load as before; one after an `await` is bounded by `loadTimeout`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache, createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';

/** `p`, or a rejection "hung" when it has not settled within 5 s (the old code never settled). */
function bounded<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('hung: getOrSet did not settle within 5 s')), 5000);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

const waitsForItself = (e: unknown) =>
  e instanceof CacheError && e.code === 'invalid_key' && /would wait for itself/.test(e.message);

describe('memory cache: getOrSet of a key from inside its own loader', () => {
  it('rejects at once (sync face) instead of waiting for itself', async () => {
    const cache = createSyncMemoryCache<number>({ maxCost: 100 });
    let inner: unknown;
    const outer = cache.getOrSet('k', async () => {
      try {
        return (await cache.getOrSet('k', async () => 1)) + 1;
      } catch (err) {
        inner = err;
        return 42;
      }
    });
    assert.equal(await bounded(outer), 42);
    assert.ok(waitsForItself(inner), String(inner));
    assert.equal(cache.get('k'), 42);
    cache.close();
  });

  it('through the loader of another key (a → b → a)', async () => {
    const cache = createSyncMemoryCache<number>({ maxCost: 100 });
    const a = cache.getOrSet('a', async () =>
      cache.getOrSet('b', async () => cache.getOrSet('a', async () => 5)),
    );
    await assert.rejects(bounded(a), waitsForItself);
    // Nothing is left holding the keys: the next loads run.
    assert.equal(await bounded(cache.getOrSet('a', async () => 6)), 6);
    assert.equal(await bounded(cache.getOrSet('b', async () => 7)), 7);
    cache.close();
  });

  it('the byte face too', async () => {
    const cache = createMemoryCache({ maxCost: 1 << 10 });
    const p = cache.getOrSet('k', async () => cache.getOrSet('k', async () => new Uint8Array([1])));
    await assert.rejects(bounded(p), waitsForItself);
    await cache.close();
  });

  it('other keys inside a loader, and callers outside it, work as before', async () => {
    const cache = createSyncMemoryCache<number>({ maxCost: 100 });
    assert.equal(
      await bounded(cache.getOrSet('x', async () => (await cache.getOrSet('y', async () => 5)) + 1)),
      6,
    );
    let release!: () => void;
    let calls = 0;
    const first = cache.getOrSet('j', async () => {
      calls++;
      await new Promise<void>((r) => (release = r));
      return 7;
    });
    const joined = cache.getOrSet('j', async () => 8);
    await new Promise((r) => setImmediate(r));
    release();
    assert.deepEqual(await bounded(Promise.all([first, joined])), [7, 7]);
    assert.equal(calls, 1);
    cache.close();
  });

  it('a loader that finished, still running code later, joins a newer load of its key', async () => {
    const cache = createSyncMemoryCache<number>({ maxCost: 100 });
    let later!: () => Promise<number>;
    await cache.getOrSet('k', async () => {
      later = () => cache.getOrSet('k', async () => 2);
      return 1;
    });
    cache.delete('k');
    let release!: () => void;
    const newer = cache.getOrSet('k', async () => {
      await new Promise<void>((r) => (release = r));
      return 3;
    });
    const fromOld = later();
    await new Promise((r) => setImmediate(r));
    release();
    assert.deepEqual(await bounded(Promise.all([newer, fromOld])), [3, 3]);
    cache.close();
  });

  it('after the loader awaited something, the call is not recognised: loadTimeout bounds it', async () => {
    // Recognising it would need an AsyncLocalStorage, which slows every promise of a Node 20
    // process once entered (see sync.ts): the README says so and points to loadTimeout.
    const cache = createSyncMemoryCache<number>({ maxCost: 100, loadTimeout: 200 });
    const p = cache.getOrSet('k', async () => {
      await new Promise((r) => setImmediate(r));
      return cache.getOrSet('k', async () => 1);
    });
    await assert.rejects(bounded(p), (e: unknown) => e instanceof CacheError && e.code === 'timeout');
    assert.equal(await bounded(cache.getOrSet('k', async () => 2)), 2);
    cache.close();
  });
});
