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
import { assertBytes, assertKey, assertKeys, assertTtl, hitRatio } from '../../core/validate.js';
import { createClimber } from './admission/climber.js';
import { createAdmission } from './admission/policy.js';
import { createExpiry } from './expiry.js';
import { hashKey } from './hash.js';
import { type EvictReason, type MemoryCacheOptions, resolveOptions } from './options.js';
import { nextPowerOfTwo } from './sketch.js';
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
   * and then stored. A loader error reaches every caller and is not cached. The result is not
   * stored when a `set`/`delete`/`clear` of the key happened while it loaded (callers starting
   * after that write start a new load), nor when it is `undefined`, costlier than `maxCost` or
   * of an invalid cost: the callers get it all the same.
   */
  getOrSet(key: string, loader: Loader<V>, options?: SetOptions): Promise<V>;
  /** Removes every entry (the frequency history is kept: it is still true). */
  clear(): void;
  /**
   * A snapshot of the keys held now (expired ones not yet swept included), in no particular order;
   * O(entries). Not counted as accesses.
   */
  keys(): string[];
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
/**
 * A region leads the climber's restarts when its ghosts come back this many times as often as
 * the other's, over at least LEAN_MIN_HITS ghost hits (2× followed noise: −0.4 on arc-oltp 250).
 */
const LEAN_RATIO = 3;
const LEAN_MIN_HITS = 8;
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
  // Charging at least 1 keeps the entry count bounded by maxCost even for empty values; a cache
  // smaller than 1 charges its whole maxCost, so it still holds one entry instead of none.
  return cost < 1 ? Math.min(maxCost, 1) : cost;
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
  // The store's ghost counters at the last sample: window hits, main hits, window, main.
  const ghostsBefore = [0, 0, 0, 0];

  // Removals to report to onEvict, flat (key, value, reason, cost). The hook runs once the store
  // operation that removed them has finished, never in its middle: a hook that calls back into
  // the cache (clear, set, delete, …) then finds the accounting whole and leaves it exact.
  const pending: unknown[] = [];
  let reporting = false;
  const report = (s: number, reason: EvictReason) => {
    if (onEvict === undefined) return;
    pending.push(store.key(s), store.value(s), reason, store.cost(s));
  };
  /** Calls onEvict for the queued removals (those queued by the hook's own calls included). */
  const flush = () => {
    if (reporting || pending.length === 0) return;
    reporting = true;
    try {
      for (let i = 0; i < pending.length; i += 4) {
        try {
          onEvict!(
            pending[i] as string,
            pending[i + 1] as V,
            pending[i + 2] as EvictReason,
            pending[i + 3] as number,
          );
        } catch (err) {
          process.emitWarning(`memory cache onEvict threw: ${(err as Error)?.message ?? String(err)}`, {
            code: 'HYPERION_MEMORY_ON_EVICT',
          });
        }
      }
    } finally {
      pending.length = 0;
      reporting = false;
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

  const store = createStore<V>({
    maxCost,
    admission,
    onRemove,
    windowFraction: climber.fraction,
    // ≈ 1.25 × the expected entries (numCounters ≈ 10 × entries): ghosts of about one cache's worth
    // of recent losses.
    ghosts: nextPowerOfTwo(Math.max(64, o.numCounters / 8)),
  });
  const expiry = createExpiry({
    now,
    resolution: TTL_RESOLUTION,
    budget: SWEEP_BUDGET,
    expire: (s) => store.remove(s, 'expired'),
    swept: () => flush(),
  });
  const { map } = store;
  // Loads in flight, by key. A write (set, delete, clear) removes the key's entry: its load then
  // runs on for the callers that joined it but stores nothing, and later callers start a new one.
  // Only writes and loads look at it; the hit path does not.
  const loads = new Map<string, Promise<V>>();
  let warnedCost = false;

  const climb = () => {
    untilClimb = period;
    const sampleHits = hits - hitsBefore;
    hitsBefore = hits;
    // Which region would have kept more of the keys it lost: the hit rate of each kind of ghost.
    const wg = store.windowGhostHits - ghostsBefore[0]!;
    const mg = store.mainGhostHits - ghostsBefore[1]!;
    const wRate = wg / Math.max(1, store.windowGhosts - ghostsBefore[2]!);
    const mRate = mg / Math.max(1, store.mainGhosts - ghostsBefore[3]!);
    ghostsBefore[0] = store.windowGhostHits;
    ghostsBefore[1] = store.mainGhostHits;
    ghostsBefore[2] = store.windowGhosts;
    ghostsBefore[3] = store.mainGhosts;
    let lean = 0;
    if (wg + mg >= LEAN_MIN_HITS) lean = wRate > LEAN_RATIO * mRate ? 1 : mRate > LEAN_RATIO * wRate ? -1 : 0;
    store.setWindowFraction(climber.sample(sampleHits, period, lean));
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
      // Only valid keys are ever stored, so a hit needs no key check; expiry is looked at only
      // once some entry had a TTL, the clock read only for entries that have one.
      if (expiry.used) {
        const at = expiry.at(s);
        if (at !== 0 && at <= now()) return missExpired(s);
      }
      hits++;
      if (--untilClimb === 0) climb();
      return store.touch(s);
    }
    assertKey(key);
    return miss();
  };

  /** A read found the entry expired: removes it (reported to onEvict once removed) and misses. */
  const missExpired = (s: number): undefined => {
    store.remove(s, 'expired');
    flush();
    return miss();
  };

  const miss = (): undefined => {
    misses++;
    if (--untilClimb === 0) climb();
    return undefined;
  };

  const set = (key: string, value: V, opts?: SetOptions): boolean => {
    if (closed) assertOpen();
    assertKey(key);
    // Only `undefined` means "no ttl given": `null` is an invalid ttl, as on the byte face.
    const given = opts?.ttl;
    const ttl = given === undefined ? defaultTtl : given;
    const expireAt = ttl === undefined ? 0 : expiryOf(ttl);
    const givenCost = opts?.cost;
    const cost = checkCost(givenCost === undefined ? costOf(value, key) : givenCost, maxCost);
    // A write: a load of this key that began before it must not store over it.
    if (loads.size !== 0) loads.delete(key);
    costAdded += cost;
    const s = map.get(key);
    let kept: boolean;
    if (s !== undefined) {
      store.setValue(s, value);
      store.touch(s);
      expiry.remove(s);
      if (expireAt !== 0) expiry.add(s, expireAt);
      kept = store.cost(s) === cost ? true : store.recost(s, cost);
    } else {
      const fresh = store.alloc(key, value, hashKey(key), cost);
      keysAdded++;
      if (expireAt !== 0) expiry.add(fresh, expireAt);
      kept = store.insert(fresh);
    }
    if (pending.length !== 0) flush();
    return kept;
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
    if (loads.size !== 0) loads.delete(key);
    const s = map.get(key);
    if (s === undefined) return false;
    const at = expiry.at(s);
    const live = at === 0 || at > now();
    store.remove(s, live ? 'deleted' : 'expired');
    if (pending.length !== 0) flush();
    return live;
  };

  /** Stores a loaded value unless a write superseded the load; what cannot be cached is served. */
  const fill = (key: string, value: V, load: Promise<V>, opts: SetOptions | undefined): V => {
    if (loads.get(key) !== load) return value;
    loads.delete(key);
    // `undefined` is what `get` answers for a miss: such a value could never be served from the
    // cache, so it is returned to the callers and not stored.
    if (closed || value === undefined) return value;
    try {
      set(key, value, opts);
    } catch (err) {
      // The callers still get their value: one too large to cache, or whose cost the cost function
      // cannot tell (NaN, negative, …), is simply not cached.
      if (!(err instanceof CacheError)) throw err;
      if (err.code === 'invalid_cost' && !warnedCost) {
        warnedCost = true;
        process.emitWarning(`memory cache: a loaded value was not cached: ${err.message}`, {
          code: 'HYPERION_MEMORY_INVALID_COST',
        });
      } else if (err.code !== 'too_large' && err.code !== 'invalid_cost') throw err;
    }
    return value;
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
        // Misuse the loader's result cannot change is reported before loading.
        if (opts?.ttl !== undefined) assertTtl(opts.ttl);
        if (opts?.cost !== undefined) checkCost(opts.cost, Number.POSITIVE_INFINITY);
      } catch (err) {
        return Promise.reject(err);
      }
      const running = loads.get(key);
      if (running !== undefined) return running;
      // Promise.resolve().then() also turns a synchronous throw of the loader into a rejection.
      const load: Promise<V> = Promise.resolve()
        .then(loader)
        .then(
          (value) => fill(key, value, load, opts),
          (err: unknown) => {
            if (loads.get(key) === load) loads.delete(key);
            throw err;
          },
        );
      loads.set(key, load);
      return load;
    },
    keys() {
      if (closed) assertOpen();
      return [...map.keys()];
    },
    clear() {
      if (closed) assertOpen();
      loads.clear();
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
      loads.clear();
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

/** The settled result of every miss of the byte face (a settled promise is immutable: shareable). */
const MISS: Promise<undefined> = Promise.resolve(undefined);

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
