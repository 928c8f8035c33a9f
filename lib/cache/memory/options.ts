/** Option checking and defaults for the memory cache; every problem names its field. */

import { ConfigError, type ConfigIssue } from '../../core/errors.js';
import {
  MAX_TIMER_MS,
  MAX_TTL_MS,
  optionKeys,
  shownDuration,
  shownOptionValue,
  unknownOptionIssues,
} from '../../core/options.js';

/** Why an entry left the cache, as passed to `onEvict`. */
export type EvictReason = 'capacity' | 'rejected' | 'expired';

/** Options of `createMemoryCache` / `createSyncMemoryCache`. */
export interface MemoryCacheOptions<V> {
  /**
   * Capacity, in cost units: bytes with the default cost, entries with `cost: () => 1`. Required,
   * > 0 (at least 1 for `createMemoryCache` without a `cost`). Total cost never exceeds it; each
   * entry is charged at least 1 (at most `maxCost` when that is below 1).
   */
  maxCost: number;
  /**
   * Counters per row of the frequency sketch, ≈ 10 × the number of entries you expect to hold
   * (memory: ≈ 4 bytes each — sketch 2, doorkeeper 1, ghosts 1). Also sets the accesses between
   * two agings of the counts (3 × it) and between two window adjustments (it, clamped to
   * 1,024..50,000).
   * Default: 10 × `maxCost`, clamped to 1,024..1,048,576.
   */
  numCounters?: number | undefined;
  /**
   * Deprecated, has no effect: Ristretto's per-goroutine access buffers exist to avoid lock
   * contention, which a single-threaded runtime does not have; accesses are recorded directly.
   * Setting it emits a one-time `DeprecationWarning` (code `HYPERION_MEMORY_BUFFER_ITEMS`).
   * @deprecated No effect (see above); remove it. The tag makes editors strike it through and
   * lint rules (`@typescript-eslint/no-deprecated`) report it, as the README says it is deprecated.
   */
  bufferItems?: number | undefined;
  /**
   * Keep the admission/eviction counters and expose `stats()` on the byte face (read by the
   * metrics adapter). With `false` the byte face has no `stats` and the sync `stats()` reports
   * hits and misses only. Default `true`.
   */
  metrics?: boolean | undefined;
  /** TTL in ms for sets that give none. Default: none (entries live until evicted). */
  defaultTtl?: number | undefined;
  /**
   * Clock in ms used for TTLs. Default `Date.now` (as of creation) made never to run backwards
   * ({@link forwardClock}): a wall clock stepped back does not hold entries past their TTL.
   */
  now?: (() => number) | undefined;
  /**
   * Called when an entry leaves on its own: `capacity` (evicted to make room), `rejected` (a
   * newcomer the admission policy refused) or `expired`. Not called for `delete`, `clear` or
   * overwrites. Exceptions thrown by it (or the rejection of the promise an async hook returns) are
   * reported as one warning per cache, never break the cache.
   */
  onEvict?: ((key: string, value: V, reason: EvictReason, cost: number) => void) | undefined;
  /**
   * Cost of a value, in the unit of `maxCost`. Default: byte length for typed arrays, DataView,
   * ArrayBuffer, SharedArrayBuffer and strings (UTF-8), 1 for anything else. A per-set `cost` overrides it.
   */
  cost?: ((value: V, key: string) => number) | undefined;
  /**
   * Longest wait for a `getOrSet` loader, ms (above 0 and up to 2^31 − 1, or `Infinity`). A load that takes
   * longer rejects with `CacheError('timeout')` for every caller that joined it, the key's next
   * caller starts a new load, and the late value is dropped. Default `Infinity` (off): a loader
   * that never settles then holds its key, and every later `getOrSet` of that key joins it.
   */
  loadTimeout?: number | undefined;
}

export interface ResolvedOptions<V> {
  maxCost: number;
  numCounters: number;
  metrics: boolean;
  defaultTtl: number | undefined;
  now: () => number;
  onEvict: MemoryCacheOptions<V>['onEvict'];
  cost: (value: V, key: string) => number;
  loadTimeout: number;
}

/** Most sketch counters accepted (2^26: the sketch, doorkeeper and ghosts then take 256 MiB). */
export const MAX_NUM_COUNTERS = 2 ** 26;

const KNOWN = optionKeys<MemoryCacheOptions<unknown>>({
  maxCost: true,
  numCounters: true,
  bufferItems: true,
  metrics: true,
  defaultTtl: true,
  now: true,
  onEvict: true,
  cost: true,
  loadTimeout: true,
});

let warnedBufferItems = false;

/** Byte length for bytes (any ArrayBuffer view, ArrayBuffer, SharedArrayBuffer) and strings, 1 for other values. */
export function defaultCost(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (value instanceof ArrayBuffer) return value.byteLength;
  // Every other view (Float64Array, DataView, …) and shared memory are bytes too: they used to be
  // charged 1, so a 1 MB Float64Array counted as one unit of a byte budget.
  if (ArrayBuffer.isView(value) || value instanceof SharedArrayBuffer) return value.byteLength;
  return 1;
}

const issue = (path: string, expected: string, value: unknown, message: string): ConfigIssue => ({
  path,
  expected,
  // The duration options show duration text (`defaultTtl: '5s'`) with the number to give.
  received: path === 'defaultTtl' || path === 'loadTimeout' ? shownDuration(value) : shownOptionValue(value),
  message,
});

const positive = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;

/**
 * Validates every option at once; throws one ConfigError listing all bad fields. `bytes`: the byte
 * face (`createMemoryCache`), whose values cost their length in whole bytes unless a `cost` is given.
 */
export function resolveOptions<V>(options: MemoryCacheOptions<V>, bytes = false): ResolvedOptions<V> {
  const o = (options ?? {}) as Partial<MemoryCacheOptions<V>>;
  const issues: ConfigIssue[] = unknownOptionIssues(options, KNOWN);
  if (!(positive(o.maxCost) && o.maxCost <= Number.MAX_SAFE_INTEGER))
    issues.push(
      issue(
        'maxCost',
        'a number > 0 and ≤ 2^53 − 1',
        o.maxCost,
        'maxCost must be a number > 0 and ≤ 2^53 − 1',
      ),
    );
  if (
    o.numCounters !== undefined &&
    !(Number.isInteger(o.numCounters) && o.numCounters >= 1 && o.numCounters <= MAX_NUM_COUNTERS)
  )
    issues.push(
      issue(
        'numCounters',
        `an integer from 1 to ${MAX_NUM_COUNTERS}`,
        o.numCounters,
        `numCounters must be an integer from 1 to ${MAX_NUM_COUNTERS}`,
      ),
    );
  if (
    o.bufferItems !== undefined &&
    !(
      Number.isInteger(o.bufferItems) &&
      (o.bufferItems as number) >= 0 &&
      (o.bufferItems as number) < 2 ** 31
    )
  )
    issues.push(
      issue(
        'bufferItems',
        'an integer from 0 to 2^31 − 1',
        o.bufferItems,
        'bufferItems must be an integer from 0 to 2^31 − 1',
      ),
    );
  if (o.metrics !== undefined && typeof o.metrics !== 'boolean')
    issues.push(issue('metrics', 'a boolean', o.metrics, 'metrics must be true or false'));
  if (o.defaultTtl !== undefined && !(positive(o.defaultTtl) && o.defaultTtl <= MAX_TTL_MS))
    issues.push(
      issue(
        'defaultTtl',
        `a number of ms > 0 and ≤ ${MAX_TTL_MS} (365 days)`,
        o.defaultTtl,
        'defaultTtl must be > 0 ms and at most 365 days',
      ),
    );
  // The range of the Redis and tiered caches' `loadTimeout`: it was whole ms from 1 only here, so
  // `loadTimeout: 1.1 * 1000` (1100.0000000000002) was a ConfigError on the memory cache and
  // accepted by the other two.
  if (
    o.loadTimeout !== undefined &&
    !(
      o.loadTimeout === Number.POSITIVE_INFINITY ||
      (positive(o.loadTimeout) && o.loadTimeout <= MAX_TIMER_MS)
    )
  )
    issues.push(
      issue(
        'loadTimeout',
        `a number of ms > 0 and ≤ ${MAX_TIMER_MS}, or Infinity`,
        o.loadTimeout,
        'loadTimeout must be a number of ms above 0 and up to 2^31 − 1, or Infinity (off)',
      ),
    );
  for (const fn of ['now', 'onEvict', 'cost'] as const) {
    if (o[fn] !== undefined && typeof o[fn] !== 'function')
      issues.push(issue(fn, 'a function', o[fn], `${fn} must be a function`));
  }
  // The byte face at its default cost (each byte costs 1) below a budget of 1 held nothing but an
  // empty value: every other `set` was refused `too_large`, found only on the first write. A
  // fraction stays valid with a `cost` function (and on the sync face, whose `set` takes a cost).
  if (bytes && o.cost === undefined && positive(o.maxCost) && o.maxCost < 1)
    issues.push(
      issue(
        'maxCost',
        'a number of bytes ≥ 1 (or a cost function that prices values below 1)',
        o.maxCost,
        'maxCost below 1 holds no value at the default cost (each byte costs 1): every set would be refused too_large',
      ),
    );
  if (issues.length) throw new ConfigError('invalid memory cache options', issues);

  if (o.bufferItems !== undefined && !warnedBufferItems) {
    warnedBufferItems = true;
    process.emitWarning(
      'memory cache option bufferItems (buffer_items) has no effect in Node.js and is deprecated: ' +
        'accesses are recorded directly, there are no threads to buffer for.',
      { type: 'DeprecationWarning', code: 'HYPERION_MEMORY_BUFFER_ITEMS' },
    );
  }
  const maxCost = o.maxCost as number;
  return {
    maxCost,
    numCounters: o.numCounters ?? Math.min(1 << 20, Math.max(1024, Math.ceil(maxCost * 10))),
    metrics: o.metrics ?? true,
    defaultTtl: o.defaultTtl,
    now: o.now ?? forwardClock(Date.now),
    onEvict: o.onEvict,
    cost: o.cost ?? defaultCost,
    loadTimeout: o.loadTimeout ?? Number.POSITIVE_INFINITY,
  };
}

/**
 * The default TTL clock: `wall` (`Date.now` as of creation, so a `Date` mocked before the cache is
 * made drives it) made never to run backwards. A step back of the wall clock (an NTP step) is
 * absorbed: the clock goes on from the last time it read, at the wall clock's pace, so an entry
 * expires its TTL after it was set, plus at most the time between the last read before the step
 * and the first one after it (the sweep reads the clock every second while entries with a TTL
 * exist). On `Date.now` itself a
 * 200 ms TTL set just before a step back of 1 h was served for that hour. A step forward (or a
 * host resumed from suspend) is followed, as before: entries whose TTL passed on the wall clock
 * expire. One `Date.now()` and a comparison per read, as before plus the comparison.
 */
export function forwardClock(wall: () => number): () => number {
  let offset = 0;
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    let t = wall() + offset;
    // No valid time (a mocked Date answering NaN or ±Infinity): passed on, never remembered, so
    // the clock is its own again once the wall clock is.
    if (!Number.isFinite(t)) return t;
    if (t < last) {
      offset += last - t;
      t = last;
    }
    last = t;
    return t;
  };
}
