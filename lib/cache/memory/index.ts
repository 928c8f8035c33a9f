/**
 * In-memory cache with TinyLFU admission (W-TinyLFU: an adaptive LRU window in front of a
 * frequency-guarded main region), sampled eviction, cost-based capacity and TTL buckets.
 *
 * Two faces over one store:
 * - `createSyncMemoryCache<V>()`: synchronous and generic, for in-process values of any type;
 * - `createMemoryCache()`: the async byte `Cache` contract (name `memory`), for `createApp` and
 *   tiered caches. Its `sync` property is the synchronous face of the same entries.
 */

import type { Bytes, Cache, CacheEntry } from '../../core/contracts.js';
import {
  assertBudgetOptions,
  assertBytes,
  assertEntries,
  assertKey,
  assertKeys,
  assertLoader,
  assertTtl,
  assertWriteOptions,
} from '../../core/validate.js';
import type { MemoryCacheOptions } from './options.js';
import { type MemoryCacheStats, SyncCache, type SyncMemoryCache } from './sync.js';

export type { EvictReason, MemoryCacheOptions } from './options.js';
export type { MemoryCacheStats, SetOptions, SyncMemoryCache } from './sync.js';

/** The byte `Cache` face, with the synchronous face of the same entries as `sync`. */
export interface MemoryCache extends Cache {
  readonly name: 'memory';
  readonly sync: SyncMemoryCache<Bytes>;
  /**
   * The `defaultTtl` option: the TTL of writes that give none (`undefined`: they never expire). A
   * tiered cache without a `ttl` of its own takes its L2's, so its L1 copies expire with L2's.
   */
  readonly defaultTtl: number | undefined;
  /** Present unless `metrics: false`. */
  stats?(): MemoryCacheStats;
  close(): Promise<void>;
}

/** A synchronous, generic in-memory cache. See {@link MemoryCacheOptions}. */
export function createSyncMemoryCache<V>(options: MemoryCacheOptions<V>): SyncMemoryCache<V> {
  return new SyncCache<V>(options);
}

/**
 * `bytes` itself when it spans its whole ArrayBuffer, else a copy that does: a view into a larger
 * buffer (a slice of Node's Buffer pool, a `subarray` of a big read) would keep all of that buffer
 * alive while being charged only its own length, so `maxCost` would not bound the memory held.
 */
const owned = (bytes: Bytes): Bytes => {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  // allocUnsafeSlow: never a slice of the shared pool itself (Buffer.from is, for small values).
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return copy;
};

/** The settled result of every miss of the byte face (a settled promise is immutable: shareable). */
const MISS: Promise<undefined> = Promise.resolve(undefined);

/**
 * The in-memory byte cache (`Cache` contract, name `memory`): drops into `createApp({ cache })`
 * and tiered caches. Values are Uint8Arrays; their cost defaults to their byte length, so
 * `maxCost` is a byte budget. `sync` gives synchronous access to the same entries.
 */
export function createMemoryCache(options: MemoryCacheOptions<Bytes>): MemoryCache {
  const sync = new SyncCache<Bytes>(options, true);
  const withMetrics = options.metrics !== false;
  const setOne = (key: string, value: Bytes, ttl: number | undefined): boolean => {
    assertKey(key);
    assertBytes(value, key);
    assertTtl(ttl);
    return sync.set(key, owned(value), ttl === undefined ? undefined : { ttl });
  };
  const cache: MemoryCache = {
    name: 'memory',
    sync,
    defaultTtl: options.defaultTtl,
    // Not `async`: an async function frame plus its implicit await cost ~200 ns over the sync
    // face; a settled promise of the sync result keeps the contract (errors still reject).
    get(key) {
      try {
        const value = sync.get(key);
        return value === undefined ? MISS : Promise.resolve(value);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async set(key, value, ttl, options) {
      // Writes here are synchronous: `options.timeout` has nothing to bound, but it is checked
      // like every cache checks it, so a call refused elsewhere is refused here too.
      if (options !== undefined) {
        assertKey(key);
        assertBytes(value, key);
        assertTtl(ttl);
        assertWriteOptions(options);
        if (options?.ifAbsent === true) {
          if (sync.has(key)) return false;
        } else if (options?.ifEquals !== undefined) {
          const now = sync.peek(key);
          // Buffer.compare takes the Uint8Arrays themselves: a view whose ArrayBuffer was
          // transferred reads as 0 bytes, as `get` returns it. Wrapping each in
          // `Buffer.from(b.buffer, …)` threw a bare TypeError for a detached buffer instead.
          if (now === undefined || Buffer.compare(now, options.ifEquals) !== 0) return false;
        }
      }
      return setOne(key, value, ttl);
    },
    async delete(key, options) {
      assertBudgetOptions(options);
      return sync.delete(key);
    },
    async has(key) {
      return sync.has(key);
    },
    async getMany(keys) {
      // Checked here too: an empty batch touches no entry, and it used to resolve after close().
      sync.assertOpen();
      assertKeys(keys);
      return keys.map((k) => sync.get(k));
    },
    async setMany(entries: readonly CacheEntry[], options) {
      sync.assertOpen();
      assertEntries(entries);
      assertBudgetOptions(options);
      // Refused whole, before any entry is written, when one cannot be stored: a value costlier
      // than maxCost (`too_large`) or of an unusable cost used to reject the call after the
      // entries before it had been stored.
      // The cost function prices the value stored, as in `set` and `getOrSet`: it used to be
      // given the caller's view, not its copy (a `cost` of `v.buffer.byteLength` priced a 5-byte
      // pooled Buffer at 8 KiB here, refused as too_large, while `set` stored it at 5).
      const values = entries.map((e) => owned(e.value));
      const costs = entries.map((e, i) => sync.costFor(e.key, values[i]!));
      entries.forEach((e, i) => {
        sync.set(e.key, values[i]!, { ttl: e.ttl, cost: costs[i] });
      });
    },
    async deleteMany(keys, options) {
      sync.assertOpen();
      assertKeys(keys);
      assertBudgetOptions(options);
      let removed = 0;
      for (const k of keys) if (sync.delete(k)) removed++;
      return removed;
    },
    async clear() {
      sync.clear();
    },
    getOrSet(key, loader, ttl) {
      try {
        assertKey(key);
        assertTtl(ttl);
        assertLoader(loader);
      } catch (err) {
        return Promise.reject(err);
      }
      return sync.getOrSet(
        key,
        async () => {
          const value = await loader();
          assertBytes(value, key);
          return owned(value);
        },
        ttl === undefined ? undefined : { ttl },
      );
    },
    async close() {
      sync.close();
    },
  };
  if (withMetrics) cache.stats = () => sync.stats();
  return cache;
}
// The core contracts this subpath's results are typed with, re-exported so that a TypeScript
// module importing only this subpath can emit declarations for them (with `declaration: true` an
// exported result typed by a core contract failed with TS2742, naming …/dist/core/contracts.js).
export type { Cache } from '../../core/index.js';
