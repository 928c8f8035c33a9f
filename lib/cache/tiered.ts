/**
 * A two-level cache: a process-local L1 in front of a shared L2, both plain `Cache`s. Reads go
 * L1 → L2 → loader, with one loader call per key per process however many callers miss at once.
 * Writes go to L2, then L1, then an invalidation (keys only) tells the other instances to drop
 * their L1 copies. L2 is treated as fallible: every call is time-bounded and a circuit breaker
 * stops calling it during an outage, while L1 and the loader keep answering.
 *
 * Both levels hold an envelope (see ./tiered/envelope.ts) carrying the fresh and grace deadlines,
 * so stale-if-error and early refresh work whatever the levels are. This module holds the public
 * types and the wiring; the parts live in ./tiered/:
 *
 *   options.ts      options, defaults and their validation
 *   context.ts      the state the parts share (counters, breaker, fence, guarded L2, L1 side)
 *   l2.ts           every L2 call under the timeout and the circuit breaker (breaker.ts, timing.ts)
 *   local.ts        envelopes for writes, fenced L1 fills, per-key flights (envelope.ts, coherence.ts)
 *   read.ts         single-key reads: grace, early refresh, loader lease
 *   batch.ts        getMany and getOrSetMany
 *   write.ts        set, setMany, delete, clear and their invalidations
 *   invalidation.ts this instance's end of the invalidation bus
 *   stats.ts        the counters behind stats()
 *
 * Nothing here or there imports anything but the core.
 */
import type { Bytes, Cache, CacheStats, Loader } from '../core/contracts.js';
import { createBatchPath } from './tiered/batch.js';
import type { BreakerState } from './tiered/breaker.js';
import { createContext } from './tiered/context.js';
import { listen } from './tiered/invalidation.js';
import { resolveOptions, type TieredCacheOptions } from './tiered/options.js';
import { createReadPath } from './tiered/read.js';
import { snapshot } from './tiered/stats.js';
import { createWritePath } from './tiered/write.js';

export type { BreakerState } from './tiered/breaker.js';
export type { Invalidation, InvalidationBus } from './tiered/coherence.js';
export { decodeEnvelope, type Envelope, encodeEnvelope, HEADER_BYTES } from './tiered/envelope.js';
export type { BreakerOptions, LoaderLease, TieredCacheOptions } from './tiered/options.js';
export { createSeededRandom } from './tiered/timing.js';

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
}

export interface TieredCache extends Cache {
  readonly name: 'tiered';
  /** This instance's id in invalidation messages. */
  readonly instanceId: string;
  /** Resolves once the bus subscription is live (at once without a bus); rejects if it failed. */
  readonly ready: Promise<void>;
  /** `getOrSet` with the value's source; may serve a stale value within the grace window. */
  getOrSetWithMeta(key: string, loader: Loader<Bytes>, ttl?: number): Promise<TieredResult>;
  /** `get` with the value's source; when L2 fails, may serve a stale L1 copy within the grace window. */
  getWithMeta(key: string): Promise<TieredResult | undefined>;
  /**
   * Values of `keys` (in order): L1 first, then one L2 `getMany` for the keys L1 lacks, then one
   * `loadMany` call for the keys both lack. Keys already being loaded by other callers are joined.
   */
  getOrSetMany(keys: readonly string[], loadMany: ManyLoader, ttl?: number): Promise<Bytes[]>;
  /** `closed` (L2 in use), `open` (L2 skipped) or `half-open` (one probe call allowed). */
  breakerState(): BreakerState;
  stats(): TieredCacheStats;
  /** Unsubscribes and closes the bus, then L2, then L1. Idempotent. */
  close(): Promise<void>;
}

/** Builds a tiered cache over `l1` and `l2`; see `TieredCacheOptions` for every option and its default. */
export function createTieredCache(options: TieredCacheOptions): TieredCache {
  const ctx = createContext(resolveOptions(options));
  const { o, instanceId, breaker, counters, state } = ctx;
  const read = createReadPath(ctx);
  const batch = createBatchPath(ctx);
  const write = createWritePath(ctx);
  const { ready, unsubscribe } = listen(ctx);
  let closing: Promise<void> | undefined;

  return {
    name: 'tiered',
    instanceId,
    ready,
    get: read.get,
    getWithMeta: read.getWithMeta,
    set: write.set,
    setMany: write.setMany,
    delete: write.delete,
    has: read.has,
    getMany: batch.getMany,
    clear: write.clear,
    getOrSet: read.getOrSet,
    getOrSetWithMeta: read.getOrSetWithMeta,
    getOrSetMany: batch.getOrSetMany,
    breakerState: () => breaker.state(),
    stats: () => snapshot(counters, breaker.opens),

    close() {
      closing ??= (async () => {
        state.closed = true;
        unsubscribe();
        const errors: unknown[] = [];
        for (const part of [o.bus, o.l2, o.l1]) {
          try {
            await part?.close?.();
          } catch (err) {
            errors.push(err);
          }
        }
        if (errors.length > 0) throw new AggregateError(errors, 'tiered cache: close failed');
      })();
      return closing;
    },
  };
}
