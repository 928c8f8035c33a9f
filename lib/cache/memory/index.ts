/**
 * In-memory cache with TinyLFU admission (W-TinyLFU: an adaptive LRU window in front of a
 * frequency-guarded main region), sampled eviction, cost-based capacity and TTL buckets.
 *
 * Two faces over one store:
 * - `createSyncMemoryCache<V>()`: synchronous and generic, for in-process values of any type;
 * - `createMemoryCache()`: the async byte `Cache` contract (name `memory`), for `createApp` and
 *   tiered caches. Its `sync` property is the synchronous face of the same entries.
 */

import type { Bytes, Cache, CacheEntry, CacheStats, Loader } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import { createSingleflight } from '../../core/singleflight.js';
import { assertBytes, assertKey, assertKeys, assertTtl, hitRatio } from '../../core/validate.js';
import { createClimber } from './admission/climber.js';
import { createAdmission } from './admission/policy.js';
import { createExpiry } from './expiry.js';
import { hashKey } from './hash.js';
import { type EvictReason, type MemoryCacheOptions, resolveOptions } from './options.js';
import { createStore, type RemoveReason } from './store.js';

export type { EvictReason, MemoryCacheOptions } from './options.js';

/** Per-set options of the synchronous face. */
export interface SetOptions {
  /** Time to live in ms (> 0). Default: the cache's `defaultTtl`, else none. */
  ttl?: number | undefined;
  /** Cost in the unit of `maxCost` (finite, ≥ 0). Default: the cache's `cost` function. */
  cost?: number | undefined;
}

/** Live counters. `keysExpired` is specific to this cache. */
export interface MemoryCacheStats extends CacheStats {
  /** Entries removed because their TTL passed. */
  readonly keysExpired?: number;
}

/** The synchronous, generic face. */
export interface SyncMemoryCache<V> {
  /** The value, or `undefined` on a miss (absent or expired). Counts as an access. */
  get(key: string): V | undefined;
  /**
   * Stores the value. Returns `false` when the admission policy refused it (not an error).
   * Throws `CacheError` `invalid_key` / `invalid_ttl` / `invalid_cost`, or `too_large` when the
   * cost exceeds `maxCost`.
   */
  set(key: string, value: V, options?: SetOptions): boolean;
  /** True when a value was removed. */
  delete(key: string): boolean;
  /** True when a live value is cached; not counted as an access. */
  has(key: string): boolean;
  /**
   * The cached value, or the loader's result, loaded once for all concurrent callers of the key
   * and then stored. A loader error reaches every caller and is not cached.
   */
  getOrSet(key: string, loader: Loader<V>, options?: SetOptions): Promise<V>;
  /** Removes every entry (the frequency history is kept: it is still true). */
  clear(): void;
  /** A snapshot of the live counters. */
  stats(): MemoryCacheStats;
  /** Stops the TTL timer and drops every entry; later calls throw `CacheError('closed')`. Idempotent. */
  close(): void;
  /** Number of entries (expired ones not yet swept included). */
  readonly size: number;
  /** Total cost of the entries. Never above `maxCost`. */
  readonly cost: number;
  readonly maxCost: number;
}

/** The byte `Cache` face, with the synchronous face of the same entries as `sync`. */
export interface MemoryCache extends Cache {
  readonly name: 'memory';
  readonly sync: SyncMemoryCache<Bytes>;
  /** Present unless `metrics: false`. */
  stats?(): MemoryCacheStats;
  close(): Promise<void>;
}

/** Upper bound of the requests per hill-climbing sample. */
const CLIMB_PERIOD_MAX = 50_000;
/** Width of a TTL bucket and period of the sweep timer, in ms. */
const TTL_RESOLUTION = 1000;
/** Expired entries removed per sweep run, so a mass expiry never stalls the event loop. */
const SWEEP_BUDGET = 10_000;

const checkCost = (cost: unknown, maxCost: number): number => {
  if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
    throw new CacheError(
      'invalid_cost',
      `cost must be a finite number ≥ 0, received ${typeof cost === 'number' ? String(cost) : typeof cost}`,
    );
  }
  if (cost > maxCost) {
    throw new CacheError('too_large', `value cost ${cost} exceeds the cache's maxCost ${maxCost}`);
  }
  // Charging at least 1 keeps the entry count bounded by maxCost even for empty values.
  return cost < 1 ? 1 : cost;
};

/** A synchronous, generic in-memory cache. See {@link MemoryCacheOptions}. */
export function createSyncMemoryCache<V>(options: MemoryCacheOptions<V>): SyncMemoryCache<V> {
  const o = resolveOptions(options);
  const { maxCost, now, defaultTtl, onEvict, metrics } = o;
  const costOf = o.cost;
  const admission = createAdmission({ numCounters: o.numCounters });
  const climber = createClimber();

  let hits = 0;
  let misses = 0;
  let keysAdded = 0;
  let keysEvicted = 0;
  let keysRejected = 0;
  let keysExpired = 0;
  let costAdded = 0;
  let costEvicted = 0;
  let closed = false;
  // Window adaptation: every `period` requests the climber compares this sample's hit ratio.
  // ≈ 10 × the entries, capped so that large caches still adapt within minutes of traffic.
  const period = Math.min(o.numCounters, CLIMB_PERIOD_MAX);
  let untilClimb = period;
  // Hits of the current sample = hits - hitsBefore (a hit only bumps `hits`).
  let hitsBefore = 0;

  const report = (s: number, reason: EvictReason) => {
    if (onEvict === undefined) return;
    try {
      onEvict(store.key(s), store.value(s), reason, store.cost(s));
    } catch (err) {
      process.emitWarning(`memory cache onEvict threw: ${(err as Error)?.message ?? String(err)}`, {
        code: 'HYPERION_MEMORY_ON_EVICT',
      });
    }
  };

  const onRemove = (s: number, reason: RemoveReason) => {
    expiry.remove(s);
    if (reason === 'deleted') return;
    if (reason === 'capacity') {
      keysEvicted++;
      costEvicted += store.cost(s);
    } else if (reason === 'rejected') keysRejected++;
    else keysExpired++;
    report(s, reason);
  };

  const store = createStore<V>({ maxCost, admission, onRemove, windowFraction: climber.fraction });
  const expiry = createExpiry({
    now,
    resolution: TTL_RESOLUTION,
    budget: SWEEP_BUDGET,
    expire: (s) => store.remove(s, 'expired'),
  });
  const { map } = store;
  const flights = createSingleflight<V>();

  const climb = () => {
    untilClimb = period;
    store.setWindowFraction(climber.sample(hits - hitsBefore, period));
    hitsBefore = hits;
  };

  const assertOpen = () => {
    if (closed) throw new CacheError('closed', 'memory cache is closed');
  };

  const expiryOf = (ttl: number | undefined): number => {
    if (ttl === undefined) return 0;
    assertTtl(ttl);
    return now() + ttl;
  };

  const get = (key: string): V | undefined => {
    if (closed) assertOpen();
    const s = map.get(key);
    if (s !== undefined) {
      // Only valid keys are ever stored, so a hit needs no key check; the clock is read only
      // for entries that have a TTL.
      const at = expiry.at(s);
      if (at === 0 || at > now()) {
        hits++;
        if (--untilClimb === 0) climb();
        return store.touch(s);
      }
      store.remove(s, 'expired');
    } else assertKey(key);
    misses++;
    if (--untilClimb === 0) climb();
    return undefined;
  };

  const set = (key: string, value: V, opts?: SetOptions): boolean => {
    if (closed) assertOpen();
    assertKey(key);
    const ttl = opts?.ttl ?? defaultTtl;
    const expireAt = ttl === undefined ? 0 : expiryOf(ttl);
    const given = opts?.cost;
    const cost = checkCost(given === undefined ? costOf(value, key) : given, maxCost);
    costAdded += cost;
    const s = map.get(key);
    if (s !== undefined) {
      store.setValue(s, value);
      store.touch(s);
      expiry.remove(s);
      if (expireAt !== 0) expiry.add(s, expireAt);
      return store.cost(s) === cost ? true : store.recost(s, cost);
    }
    const fresh = store.alloc(key, value, hashKey(key), cost);
    keysAdded++;
    if (expireAt !== 0) expiry.add(fresh, expireAt);
    return store.insert(fresh);
  };

  const has = (key: string): boolean => {
    if (closed) assertOpen();
    assertKey(key);
    const s = map.get(key);
    if (s === undefined) return false;
    const at = expiry.at(s);
    return at === 0 || at > now();
  };

  const del = (key: string): boolean => {
    if (closed) assertOpen();
    assertKey(key);
    const s = map.get(key);
    if (s === undefined) return false;
    const at = expiry.at(s);
    const live = at === 0 || at > now();
    store.remove(s, live ? 'deleted' : 'expired');
    return live;
  };

  return {
    get,
    set,
    has,
    delete: del,
    getOrSet(key, loader, opts) {
      try {
        const cached = get(key);
        if (cached !== undefined) return Promise.resolve(cached);
        if (opts?.ttl !== undefined) assertTtl(opts.ttl);
      } catch (err) {
        return Promise.reject(err);
      }
      return flights.do(key, async () => {
        const value = await loader();
        if (closed) return value;
        try {
          set(key, value, opts);
        } catch (err) {
          // The caller still gets its value; a value too large to cache is simply not cached.
          if (!(err instanceof CacheError && err.code === 'too_large')) throw err;
        }
        return value;
      });
    },
    clear() {
      if (closed) assertOpen();
      expiry.clear();
      store.clear();
    },
    stats() {
      if (!metrics) return { hits, misses, hitRatio: hitRatio(hits, misses) };
      return {
        hits,
        misses,
        hitRatio: hitRatio(hits, misses),
        keysAdded,
        keysEvicted,
        keysRejected,
        keysExpired,
        costAdded,
        costEvicted,
      };
    },
    close() {
      if (closed) return;
      closed = true;
      expiry.close();
      store.clear();
    },
    get size() {
      return map.size;
    },
    get cost() {
      return store.totalCost;
    },
    maxCost,
  };
}

/**
 * The in-memory byte cache (`Cache` contract, name `memory`): drops into `createApp({ cache })`
 * and tiered caches. Values are Uint8Arrays; their cost defaults to their byte length, so
 * `maxCost` is a byte budget. `sync` gives synchronous access to the same entries.
 */
export function createMemoryCache(options: MemoryCacheOptions<Bytes>): MemoryCache {
  const sync = createSyncMemoryCache<Bytes>(options);
  const withMetrics = options.metrics !== false;
  const setOne = (key: string, value: Bytes, ttl: number | undefined): boolean => {
    assertKey(key);
    assertBytes(value);
    assertTtl(ttl);
    return sync.set(key, value, ttl === undefined ? undefined : { ttl });
  };
  const cache: MemoryCache = {
    name: 'memory',
    sync,
    async get(key) {
      return sync.get(key);
    },
    async set(key, value, ttl, options) {
      // Writes here are synchronous: `options.timeout` has nothing to bound.
      if (options?.ifAbsent === true) {
        assertKey(key);
        assertBytes(value);
        assertTtl(ttl);
        if (sync.has(key)) return false;
      }
      return setOne(key, value, ttl);
    },
    async delete(key) {
      return sync.delete(key);
    },
    async has(key) {
      return sync.has(key);
    },
    async getMany(keys) {
      for (const k of keys) assertKey(k);
      return keys.map((k) => sync.get(k));
    },
    async setMany(entries: readonly CacheEntry[]) {
      for (const e of entries) {
        assertKey(e.key);
        assertBytes(e.value);
        assertTtl(e.ttl);
      }
      for (const e of entries) setOne(e.key, e.value, e.ttl);
    },
    async deleteMany(keys) {
      assertKeys(keys);
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
      } catch (err) {
        return Promise.reject(err);
      }
      return sync.getOrSet(
        key,
        async () => {
          const value = await loader();
          assertBytes(value);
          return value;
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
