/**
 * `loadTimeout`: a getOrSet loader that never settles no longer holds its key for good. Without
 * the bound every later getOrSet of the key joined the hung load, whatever loader it brought.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache, createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const timedOut = (e: unknown) =>
  e instanceof CacheError && e.code === 'timeout' && /did not settle within 40 ms/.test(e.message);

describe('memory cache loadTimeout', () => {
  it('a hung load rejects every joined caller with timeout; the next caller loads anew; the late value is dropped', async () => {
    const cache = createMemoryCache({ maxCost: 1 << 20, loadTimeout: 40 });
    let finishHung!: (v: Uint8Array) => void;
    const hung = () => new Promise<Uint8Array>((resolve) => (finishHung = resolve));
    const first = cache.getOrSet('k', hung);
    const joined = cache.getOrSet('k', async () => bytes('never called'));
    await assert.rejects(first, timedOut);
    await assert.rejects(joined, timedOut);
    assert.equal(text(await cache.getOrSet('k', async () => bytes('fresh'))), 'fresh');
    finishHung(bytes('late'));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(text((await cache.get('k'))!), 'fresh');
    await cache.close();
  });

  it('the sync face has it too, and a loader within the bound is unaffected', async () => {
    const cache = createSyncMemoryCache<string>({ maxCost: 1000, loadTimeout: 40 });
    await assert.rejects(
      cache.getOrSet('k', () => new Promise<string>(() => {})),
      timedOut,
    );
    assert.equal(await cache.getOrSet('k', async () => 'v'), 'v');
    assert.equal(cache.get('k'), 'v');
  });

  it('off by default (Infinity); a bad value is a ConfigError naming loadTimeout', () => {
    for (const ok of [1, 2 ** 31 - 1, Number.POSITIVE_INFINITY, undefined])
      createMemoryCache({ maxCost: 10, loadTimeout: ok });
    for (const bad of [0, -0, -1, Number.NaN, Number.NEGATIVE_INFINITY, 2 ** 31, '100'])
      assert.throws(
        () => createMemoryCache({ maxCost: 10, loadTimeout: bad as number }),
        (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === 'loadTimeout'),
        String(bad),
      );
  });

  // Whole ms from 1 were asked here only: `loadTimeout: 1.1 * 1000` (1100.0000000000002) was a
  // ConfigError on the memory cache and a bound on the Redis and tiered caches.
  it('takes the range of the tiered (and Redis) cache: a fraction of a ms too', async () => {
    const tiered = (loadTimeout: number) =>
      createTieredCache({
        l1: createMemoryCache({ maxCost: 100 }),
        l2: createMemoryCache({ maxCost: 100 }),
        loadTimeout,
      });
    for (const ms of [1.1 * 1000, 1.5, 0.5]) {
      await tiered(ms).close();
      const cache = createSyncMemoryCache<string>({ maxCost: 10, loadTimeout: ms });
      await assert.rejects(
        cache.getOrSet('k', () => new Promise<string>(() => {})),
        (e: unknown) => e instanceof CacheError && e.code === 'timeout',
      );
      cache.close();
    }
  });
});
