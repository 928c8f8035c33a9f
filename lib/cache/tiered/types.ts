/**
 * The public types of the tiered cache: what `createTieredCache` takes and returns. The parts
 * import them from here, never from the wiring (cache.ts), so nothing imports in a cycle.
 */
import type {
  Bytes,
  Cache,
  CacheStats,
  InvalidationBus,
  InvalidationTracker,
  Loader,
  LoaderLease,
  LoggerLike,
} from '../../core/contracts.js';

/** `closed` (L2 in use), `open` (L2 skipped) or `half-open` (one probe call allowed). */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Where a value came from: a level, the loader, or a stale copy served within the grace window. */
export type TieredSource = 'l1' | 'l2' | 'loader' | 'stale';

/** A value with the metadata of how it was obtained. */
export interface TieredResult {
  readonly value: Bytes;
  readonly source: TieredSource;
  /** True when the value is past its TTL and was served because the loader or L2 failed (grace). */
  readonly stale: boolean;
}

/** Loads several keys at once for `getOrSetMany`: one value per key, in the order of `keys`. */
export type ManyLoader = (keys: string[]) => readonly Bytes[] | Promise<readonly Bytes[]>;

/** Counters of a tiered cache. `hits` = L1 + L2 fresh hits; `misses` = reads neither level answered. */
export interface TieredCacheStats extends CacheStats {
  readonly l1Hits: number;
  readonly l2Hits: number;
  /** Reads answered with a stale value inside the grace window. */
  readonly staleServes: number;
  /** Loader invocations (a `getOrSetMany` batch counts once). */
  readonly loaderCalls: number;
  readonly loaderErrors: number;
  /** How many times the circuit breaker opened. */
  readonly breakerOpens: number;
  /** L2 calls that failed or timed out. */
  readonly l2Errors: number;
  /** L2 calls not made because the breaker was open. */
  readonly l2Skipped: number;
  /**
   * L2 writes and deletes that timed out on their caller's own budget (`{ timeout }` shorter than
   * `l2Timeout`): counted in `l2Errors` too, but not by the circuit breaker.
   */
  readonly budgetTimeouts: number;
  /** Background early refreshes started. */
  readonly refreshes: number;
  /** Loads that waited for another instance's lease and got its value from L2. */
  readonly leaseWaits: number;
  /** Lease waits that ran out and loaded locally. */
  readonly leaseTimeouts: number;
  readonly invalidationsSent: number;
  readonly invalidationsReceived: number;
  /** Bus reconnects (each cleared L1). */
  readonly busReconnects: number;
  /** Failed publishes or subscriptions. */
  readonly busErrors: number;
  /** Keys the server reported changed through `tracking` (a flush counts as one). */
  readonly trackingInvalidations: number;
  /** Times `tracking` lost trust (a connection dropped, a node changed, a slot moved to an untracked node…). */
  readonly trackingLosses: number;
  /**
   * Times `tracking` reported cluster slots that changed owner between tracked nodes: only their
   * keys left L1, which stayed trusted.
   */
  readonly trackingMoves: number;
  /** Times L1 was emptied by coherence: tracking lost/confirmed/flush, bus reconnect or "all" message. */
  readonly l1Clears: number;
  /** ms since `tracking` last confirmed every connection (heartbeat); -1 without tracking or before the first. */
  readonly trackingConfirmedAgo: number;
  /**
   * 1 while L1 is in use: tracking (if any) confirmed and the bus (if any) subscribed; 0 while it is
   * bypassed (before `ready`, after a tracking loss, once a shared bus was closed under the cache)
   * and once the cache is closed.
   */
  readonly trackingConfirmed: number;
  /**
   * L2 stores of loaded values (the name is historical: the loading call now awaits them, within
   * what its L2 read left of the one `l2Timeout`; their failures count in `l2Errors`).
   */
  readonly backgroundWrites: number;
}

export interface TieredCache extends Cache {
  readonly name: 'tiered';
  /** This instance's id in invalidation messages. */
  readonly instanceId: string;
  /**
   * Resolves once the bus subscription is live and tracking first confirmed (at once without
   * either); rejects if the subscription failed or the server cannot track.
   */
  readonly ready: Promise<void>;
  /** `getOrSet` with the value's source; may serve a stale value within the grace window. */
  getOrSetWithMeta(key: string, loader: Loader<Bytes>, ttl?: number): Promise<TieredResult>;
  /** `get` with the value's source; when L2 fails, may serve a stale L1 copy within the grace window. */
  getWithMeta(key: string): Promise<TieredResult | undefined>;
  /**
   * Values of `keys` (in order): L1 first, then one L2 `getMany` for the keys L1 lacks, then one
   * `loadMany` call for the keys both lack. Keys already being loaded by other callers are joined.
   * No cross-instance `lease` (each instance loads its own misses), and when a cluster L2 answers
   * only in part (a master down), only the unanswered keys are loaded: see the README.
   */
  getOrSetMany(keys: readonly string[], loadMany: ManyLoader, ttl?: number): Promise<Bytes[]>;
  /** State of the circuit breaker around L2 (for readiness checks). */
  breakerState(): BreakerState;
  stats(): TieredCacheStats;
  /** Stops tracking and the bus and closes them beside L2 (after releasing leases), then L1. Idempotent; bounded as the README says. */
  close(): Promise<void>;
}

export interface BreakerOptions {
  /** Consecutive L2 failures (errors or timeouts) that open the breaker. Default 5. */
  failures?: number | undefined;
  /** How long (ms) an open breaker skips L2 before letting one probe call through. Default 5000. */
  cooldown?: number | undefined;
}

export interface TieredCacheOptions {
  /** The process-local level, e.g. `createMemoryCache(…)`. Closed by the tiered cache's `close()`. */
  l1: Cache;
  /** The shared level, e.g. `createRedisCache(…)`. Closed by the tiered cache's `close()`. */
  l2: Cache;
  /**
   * TTL (ms) for writes that give none. Default: the L2's `defaultTtl` when it reports one (the
   * memory and Redis caches do), so L1 copies expire with the L2 entry; else none (no expiry).
   */
  ttl?: number | undefined;
  /**
   * Longest time (ms) an L1 copy is served before L2 is asked again; always capped at the entry's own
   * TTL, so L1 never outlives L2. Bounds staleness when an invalidation is lost. Default: the
   * entry's TTL.
   */
  l1Ttl?: number | undefined;
  /** Upper bound (ms) of every L2 call (and of bus publishes and lease calls). Default 500; `Infinity` disables. */
  l2Timeout?: number | undefined;
  /** Circuit breaker around L2; `false` disables it. Default `{ failures: 5, cooldown: 5000 }`. */
  breaker?: BreakerOptions | false | undefined;
  /**
   * Stale-if-error window (ms): after an entry's TTL it is kept this much longer in both levels and
   * served, marked stale, when the loader (or L2 for `getWithMeta`) fails. Default 0 (off).
   */
  grace?: number | undefined;
  /** TTL jitter: each TTL is moved uniformly by up to ± this fraction of itself (0…1). Default 0 (off). */
  jitter?: number | undefined;
  /**
   * Early refresh: the last fraction (0…1) of a fresh lifetime in which a hit may start one
   * background reload, with a probability rising from 0 to 1 towards expiry. Needs a loader, so
   * only `getOrSet` hits trigger it. Default 0 (off); 0.1–0.2 is typical.
   */
  earlyRefresh?: number | undefined;
  /** Invalidation bus for cross-instance coherence. Closed by the tiered cache's `close()`. Default: none. */
  bus?: InvalidationBus | undefined;
  /**
   * Server-assisted invalidation, e.g. `createRedisTracking({ cache: l2 })`: every change of an L2
   * key by any client drops it from L1, and L1 is bypassed (empty, unfilled) whenever the tracker
   * cannot vouch for it. L1 is then filled only from L2 reads, never by writes or loads. Closed by
   * the tiered cache's `close()`. Default: none. Works alone or beside `bus`.
   */
  tracking?: InvalidationTracker | undefined;
  /**
   * Cross-instance loader lease for `getOrSet`/`getOrSetWithMeta` and early refresh (not
   * `getOrSetMany`: each instance loads its own batch misses). Default: none (each instance loads on
   * its own miss).
   */
  lease?: LoaderLease | undefined;
  /** How long (ms) an instance that did not get the lease waits for the holder's value before loading itself. Default 1000. */
  leaseWait?: number | undefined;
  /** How often (ms) L2 is polled while waiting for the lease holder's value. Default 20. */
  leasePoll?: number | undefined;
  /**
   * Longest wait (ms) for a loader (`getOrSet`, `getOrSetMany`, early refresh). A load that takes
   * longer fails with `CacheError('timeout')` for its callers (a stale value inside `grace` is
   * served instead), and the key's next caller starts a new load. Without it a loader that never
   * settles holds every later caller of that key in this process. Default `Infinity` (off).
   */
  loadTimeout?: number | undefined;
  /**
   * Id of this instance in invalidation messages; unique per instance (messages carrying it are
   * ignored as this instance's own). Default: random.
   */
  instanceId?: string | undefined;
  /**
   * Clock in ms since the epoch (envelope times). Default `Date.now`; the breaker's cool-down then
   * runs on the monotonic clock. An injected clock (tests) drives both.
   */
  now?: (() => number) | undefined;
  /** Random source in [0, 1) for jitter and early refresh. Default `Math.random`. */
  random?: (() => number) | undefined;
  /** Receives breaker transitions and bus reconnects. Default: silent. */
  logger?: LoggerLike | undefined;
}
