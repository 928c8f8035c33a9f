/**
 * The synchronous, generic face of the memory cache: validation, TTLs, stats, onEvict reporting,
 * loads in flight and the hill-climbing of the window, over the store (store.ts).
 *
 * A class, like the store: `get` and `set` are prototype methods, one call target however many
 * caches a process holds, with the state in fields (a closure-built object gave each cache its
 * own targets and shared the call sites' feedback between them).
 */

import type { CacheStats, Loader } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import {
  type LoadFrame,
  loadChain,
  loadFrame,
  runIn,
  selfWaitError,
  settle,
  waitsForItself,
} from '../../core/load-chain.js';
import { unknownKeyMessage } from '../../core/options.js';
import { withTimeout } from '../../core/timeout.js';
import { assertKey, assertLoader, assertTtl, hitRatio, MAX_KEY_BYTES, ofKey } from '../../core/validate.js';
import { type Climber, createClimber } from './admission/climber.js';
import { type Admission, createAdmission } from './admission/policy.js';
import { createExpiry, type Expiry } from './expiry.js';
import { hashKey, tableHash } from './hash.js';
import { type EvictReason, type MemoryCacheOptions, resolveOptions } from './options.js';
import { nextPowerOfTwo } from './sketch.js';
import { createStore, type RemoveReason, type Store } from './store.js';
import type { KeyTable } from './table.js';
import { thrownMessage } from './thrown.js';

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
  readonly keysExpired?: number | undefined;
}

/** The synchronous, generic face. */
export interface SyncMemoryCache<V> {
  /** The value, or `undefined` on a miss (absent or expired). Counts as an access. */
  get(key: string): V | undefined;
  /**
   * Stores the value. Returns `false` when the admission policy refused it (not an error).
   * Throws `CacheError` `invalid_key` / `invalid_ttl` / `invalid_cost`, `invalid_value` for an
   * `undefined` value (`get` could not tell it from a miss), or `too_large` when the cost exceeds
   * `maxCost`.
   */
  set(key: string, value: V, options?: SetOptions): boolean;
  /** True when a value was removed. */
  delete(key: string): boolean;
  /** True when a live value is cached; not counted as an access. */
  has(key: string): boolean;
  /**
   * The live value, or `undefined`, without counting an access (no hit or miss, no frequency
   * recorded, no move in the window) and without removing an expired entry — lru-cache's `peek`.
   */
  peek(key: string): V | undefined;
  /**
   * The cached value, or the loader's result, loaded once for all concurrent callers of the key
   * and then stored. A loader error reaches every caller and is not cached. The result is not
   * stored when a `set`/`delete`/`clear` of the key happened while it loaded (callers starting
   * after that write start a new load), nor when it is `undefined`, costlier than `maxCost` or
   * of an invalid cost: the callers get it all the same. A non-function loader or an option other
   * than `ttl`/`cost` (`invalid_value`), a bad `ttl` or `cost` reject before the lookup, on a hit
   * as on a miss.
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
  /**
   * Stops the TTL timer and drops every entry; later calls throw `CacheError('closed')`, and
   * `getOrSet` callers still waiting for a loader reject with it at once. Idempotent.
   */
  close(): void;
  /** Number of entries (expired ones not yet swept included). */
  readonly size: number;
  /** Total cost of the entries. Never above `maxCost`. */
  readonly cost: number;
  readonly maxCost: number;
}

/** Upper bound of the requests per hill-climbing sample. */
const CLIMB_PERIOD_MAX = 50_000;
/**
 * Lower bound of the requests per hill-climbing sample: the default `numCounters`' own floor. A
 * sample is `numCounters` requests, and a `numCounters` of 1 made every request a sample of its
 * own (its hit ratio 0 or 1, a jump each time), 8 one per 8 requests: the window was resized on
 * noise. 1,024 requests put the hit ratio's noise (≤ 1.6 points) well below the 5-point jump that
 * restarts the climber.
 */
const CLIMB_PERIOD_MIN = 1024;
/**
 * A region leads the climber's restarts when its ghosts come back this many times as often as
 * the other's, over at least LEAN_MIN_HITS ghost hits (2× followed noise: −0.4 on arc-oltp 250).
 */
const LEAN_RATIO = 3;
const LEAN_MIN_HITS = 8;
/**
 * Ghost hits in a sample for its lean to count towards a persistent lean (climber.ts). With 128
 * (and 256) every cell of bench:hit-ratio is unchanged or better. The smallest caches are
 * sensitive to this evidence bar: a 32-entry cache's samples of 1,024 requests hold only tens of
 * ghost hits and their leans are mostly noise; 100 lost 0.81 points on recency-5000 at 32
 * entries, 64 lost 0.1–1.35 points on four cells at 32–100 entries.
 */
const LEAN_SURE_HITS = 128;
/**
 * A sure window lean at least this lopsided (window ghosts' hit rate against main's) counts as
 * strong: two in a row speed the climber up (climber.ts). recency-5000 at 5,000 entries shows
 * 10–100× in every sample; with 20 instead of 10 scarab-recs at 32 entries still lost 0.04 points
 * when a single strong sample sped up.
 */
const STRONG_RATIO = 10;
/** Fewest requests between two LRU-shadow checkpoints. */
const SHADOW_MIN_INTERVAL = 32;
/** Width of a TTL bucket and period of the sweep timer, in ms. */
const TTL_RESOLUTION = 1000;
/** Expired entries removed per sweep run, so a mass expiry never stalls the event loop. */
const SWEEP_BUDGET = 10_000;

export const checkCost = (cost: unknown, maxCost: number, key?: string): number => {
  if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
    // An async cost function (JavaScript; TypeScript refuses it): its promise is refused here, and
    // its rejection, which nobody else could handle, used to end the process as unhandled.
    if (typeof (cost as PromiseLike<unknown> | null)?.then === 'function') {
      (cost as PromiseLike<unknown>).then(undefined, () => {});
      throw new CacheError(
        'invalid_cost',
        `cost${ofKey(key)} must be a finite number ≥ 0, received a Promise: the cost function must return its number synchronously`,
      );
    }
    // Names the key, as `too_large` does: a setMany refused whole for one entry's cost, or the
    // warning of a loaded value left uncached, did not say which.
    throw new CacheError(
      'invalid_cost',
      `cost${ofKey(key)} must be a finite number ≥ 0, received ${typeof cost === 'number' ? String(cost) : typeof cost}`,
    );
  }
  if (cost > maxCost) {
    throw new CacheError(
      'too_large',
      `value${ofKey(key)} cost ${cost} exceeds the cache's maxCost ${maxCost}`,
    );
  }
  // Charging at least 1 keeps the entry count bounded by maxCost even for empty values; a cache
  // smaller than 1 charges its whole maxCost, so it still holds one entry instead of none.
  return cost < 1 ? Math.min(maxCost, 1) : cost;
};

const CLOSED_BEFORE_LOAD = (): never => {
  throw new CacheError('closed', 'memory cache was closed before the load started');
};

const UNDEFINED_VALUE = (key: string) =>
  new CacheError(
    'invalid_value',
    `cannot cache undefined under ${JSON.stringify(key)}: get() reports a miss with it (use delete)`,
  );

/**
 * Options that are not an object: `set(key, value, 5000)`, the byte face's TTL argument, read no
 * `ttl` and stored an entry that never expired, without a word (TypeScript refuses it; JavaScript
 * did not).
 */
function checkSetOptions(opts: unknown, op: 'set' | 'getOrSet'): void {
  if (opts === undefined || opts === null || typeof opts === 'object') return;
  const hint =
    typeof opts === 'number' ? `: write ${op}(key, ${op === 'set' ? 'value' : 'loader'}, { ttl })` : '';
  throw new CacheError(
    typeof opts === 'number' ? 'invalid_ttl' : 'invalid_value',
    `${op} options must be an object ({ ttl, cost }), got ${typeof opts}${hint}`,
  );
}

const SET_OPTION_KEYS = ['ttl', 'cost'];

/**
 * An option other than `ttl`/`cost`: `{ tll: 5000 }` used to store an entry that never expired,
 * without a word (the byte face refuses unknown write options the same way). `set` checks it only
 * when it read no `ttl` — a misspelt `ttl` is the one that loses the expiry — so a set with a TTL
 * pays nothing.
 */
function checkOptionKeys(opts: object, op: 'set' | 'getOrSet'): void {
  for (const key in opts)
    if (Object.hasOwn(opts, key) && !SET_OPTION_KEYS.includes(key))
      throw new CacheError(
        'invalid_value',
        `${op}: option \`${key}\` ${unknownKeyMessage(key, SET_OPTION_KEYS)} (options are { ttl, cost })`,
      );
}

/** A synchronous, generic in-memory cache. See {@link MemoryCacheOptions}. */
export class SyncCache<V> implements SyncMemoryCache<V> {
  readonly maxCost: number;
  private readonly now: () => number;
  private readonly defaultTtl: number | undefined;
  private readonly loadTimeout: number;
  private readonly onEvict: MemoryCacheOptions<V>['onEvict'];
  private readonly metrics: boolean;
  private readonly costOf: (value: V, key: string) => number;
  private readonly climber: Climber;
  private readonly store: Store<V>;
  private readonly expiry: Expiry;
  private readonly table: KeyTable;
  private hits = 0;
  private misses = 0;
  private keysAdded = 0;
  private keysEvicted = 0;
  private keysRejected = 0;
  private keysExpired = 0;
  private costAdded = 0;
  private costEvicted = 0;
  private closed = false;
  /**
   * Window adaptation: every `period` requests the climber compares this sample's hit ratio.
   * ≈ 10 × the entries, capped so that large caches still adapt within minutes of traffic.
   */
  private readonly period: number;
  /** Requests until `climb` is called: the end of the sample or the next LRU-shadow checkpoint. */
  private untilClimb: number;
  /** What `untilClimb` was last set to, and the requests left in the sample after that. */
  private countdown: number;
  private sampleLeft = 0;
  /** LRU shadow over the current sample: hits a plain LRU would have had more than this cache. */
  private shadowGain = 0;
  private shadowVariance = 0;
  private shadowPartial = false;
  /** Hits of the current sample = hits - hitsBefore (a hit only bumps `hits`). */
  private hitsBefore = 0;
  /** The store's ghost counters at the last sample: window hits, main hits, window, main. */
  private readonly ghostsBefore = [0, 0, 0, 0];
  /**
   * Removals to report to onEvict, flat (key, value, reason, cost). The hook runs once the store
   * operation that removed them has finished, never in its middle: a hook that calls back into
   * the cache (clear, set, delete, …) then finds the accounting whole and leaves it exact.
   */
  private readonly pending: unknown[] = [];
  private reporting = false;
  /**
   * Loads in flight, by key. A write (set, delete, clear) removes the key's entry: its load then
   * runs on for the callers that joined it but stores nothing, and later callers start a new one.
   * Only writes and loads look at it; the hit path does not.
   */
  private readonly loads = new Map<string, Promise<V>>();
  /**
   * How to end the wait of each load still running (set, delete and clear drop `loads` entries,
   * not these): `close()` rejects them with `closed`. Its callers used to wait on, and a finite
   * `loadTimeout`'s timer kept the process alive up to that long after `close()`.
   */
  private readonly stops = new Set<(err: Error) => void>();
  private warnedCost = false;
  private warnedOnEvict = false;

  constructor(options: MemoryCacheOptions<V>, bytes = false) {
    const o = resolveOptions(options, bytes);
    this.maxCost = o.maxCost;
    this.now = o.now;
    this.defaultTtl = o.defaultTtl;
    this.loadTimeout = o.loadTimeout;
    this.onEvict = o.onEvict;
    this.metrics = o.metrics;
    // A cost function is the caller's code running inside `set`, between its closed check and the
    // insert: one that called `close()` there left the entry in the closed cache (`size`/`cost` 1,
    // a later `get` hit). Checked here, around the caller's function only, so `set` itself (the hot
    // path) and the default cost are unchanged: such a `set` throws `closed` and stores nothing.
    const userCost = options.cost;
    this.costOf =
      typeof userCost === 'function'
        ? (value, key) => {
            const cost = userCost(value, key);
            if (this.closed) this.assertOpen();
            return cost;
          }
        : o.cost;
    const admission: Admission = createAdmission({ numCounters: o.numCounters });
    this.climber = createClimber();
    this.period = Math.min(Math.max(o.numCounters, CLIMB_PERIOD_MIN), CLIMB_PERIOD_MAX);
    this.sampleLeft = this.period;
    this.countdown = Math.min(this.period, Math.max(SHADOW_MIN_INTERVAL, this.period >> 3));
    this.untilClimb = this.countdown;
    this.store = createStore<V>({
      maxCost: o.maxCost,
      admission,
      onRemove: (s, reason) => this.onRemove(s, reason),
      expiredTest: () => this.expiredTest(),
      windowFraction: this.climber.fraction,
      // ≈ 1.25 × the expected entries (numCounters ≈ 10 × entries): ghosts of about one cache's
      // worth of recent losses.
      ghosts: nextPowerOfTwo(Math.max(64, o.numCounters / 8)),
    });
    this.expiry = createExpiry({
      now: o.now,
      resolution: TTL_RESOLUTION,
      budget: SWEEP_BUDGET,
      expire: (s) => this.store.remove(s, 'expired'),
      swept: () => this.flush(),
    });
    this.table = this.store.table;
  }

  private report(s: number, reason: EvictReason): void {
    if (this.onEvict === undefined) return;
    const store = this.store;
    this.pending.push(store.key(s), store.value(s), reason, store.cost(s));
  }

  /** Calls onEvict for the queued removals (those queued by the hook's own calls included). */
  private flush(): void {
    const pending = this.pending;
    if (this.reporting || pending.length === 0) return;
    this.reporting = true;
    try {
      for (let i = 0; i < pending.length; i += 4) {
        try {
          const done: unknown = this.onEvict!(
            pending[i] as string,
            pending[i + 1] as V,
            pending[i + 2] as EvictReason,
            pending[i + 3] as number,
          );
          // An async hook fails by rejecting: nobody else holds its promise, so its rejection was
          // unhandled and ended the process (Node's default). It is reported like a throw.
          if (done != null && typeof (done as PromiseLike<unknown>).then === 'function')
            (done as PromiseLike<unknown>).then(undefined, (err: unknown) => this.onEvictFailed(err));
        } catch (err) {
          this.onEvictFailed(err);
        }
      }
    } finally {
      pending.length = 0;
      this.reporting = false;
    }
  }

  /**
   * Reports an error of the onEvict hook, thrown or rejected. Once per cache: a hook broken for
   * good used to print one warning per eviction (a stderr line each, and the sets ran ~9× slower).
   */
  private onEvictFailed(err: unknown): void {
    if (this.warnedOnEvict) return;
    this.warnedOnEvict = true;
    process.emitWarning(
      `memory cache onEvict threw: ${thrownMessage(err)} (later errors of this hook are not reported)`,
      { code: 'HYPERION_MEMORY_ON_EVICT' },
    );
  }

  /** For the store's refusals: a test of "expired by now", or undefined if none can be. */
  private expiredTest(): ((s: number) => boolean) | undefined {
    if (!this.expiry.used) return undefined;
    let t: number;
    try {
      t = this.now();
    } catch {
      // Asked in the middle of an insert: a throw here would leave the newcomer half placed. A
      // clock that fails only means nothing is taken for expired now.
      return undefined;
    }
    if (!this.expiry.mayHaveExpired(t)) return undefined;
    this.expiredBy = t;
    return this.isExpired;
  }

  /** Time of the last `expiredTest` that found entries may have expired. */
  private expiredBy = 0;
  private readonly isExpired = (s: number): boolean => {
    const at = this.expiry.at(s);
    return at !== 0 && at <= this.expiredBy;
  };

  private onRemove(s: number, reason: RemoveReason): void {
    // A cache that never used a TTL has no expiry to unlink (one call less per eviction).
    if (this.expiry.used) this.expiry.remove(s);
    if (reason === 'deleted') return;
    if (reason === 'capacity') {
      this.keysEvicted++;
      this.costEvicted += this.store.cost(s);
    } else if (reason === 'rejected') this.keysRejected++;
    else this.keysExpired++;
    this.report(s, reason);
  }

  /** Schedules the next call of `climb`: the next shadow checkpoint or the end of the sample. */
  private schedule(): void {
    const age = this.store.shadowAge;
    // No age yet (the cache is not full): look again an eighth of a sample later.
    const every = Math.max(SHADOW_MIN_INTERVAL, age < 0 ? this.period >> 3 : age >> 2);
    this.countdown = Math.min(this.sampleLeft, every);
    this.untilClimb = this.countdown;
  }

  /** Starts a new sample now: hits and ghost counts are counted from here. */
  private restartSample(): void {
    const store = this.store;
    const before = this.ghostsBefore;
    this.sampleLeft = this.period;
    this.shadowGain = 0;
    this.shadowVariance = 0;
    this.shadowPartial = false;
    this.hitsBefore = this.hits;
    before[0] = store.windowGhostHits;
    before[1] = store.mainGhostHits;
    before[2] = store.windowGhosts;
    before[3] = store.mainGhosts;
  }

  private climb(): void {
    const store = this.store;
    this.sampleLeft -= this.countdown;
    // An interval that began without an LRU age was not measured: the sample's shadow is partial.
    if (store.shadowAge < 0) this.shadowPartial = true;
    this.shadowGain += store.shadow();
    this.shadowVariance += store.shadowVariance;
    if (this.sampleLeft > 0) {
      const elapsed = this.period - this.sampleLeft;
      if (this.climber.interrupt(this.shadowGain / elapsed, Math.sqrt(this.shadowVariance) / elapsed)) {
        // Overwhelming evidence within the sample (a phase change to a recency-heavy workload):
        // the window is now the whole cache and a new sample starts.
        store.setWindowFraction(this.climber.fraction);
        this.restartSample();
      }
      this.schedule();
      return;
    }
    this.sampleLeft = this.period;
    const partial = this.shadowPartial;
    const shadowGain = partial ? 0 : this.shadowGain / this.period;
    const shadowError = partial ? 0 : Math.sqrt(this.shadowVariance) / this.period;
    this.shadowPartial = false;
    this.shadowGain = 0;
    this.shadowVariance = 0;
    const before = this.ghostsBefore;
    const sampleHits = this.hits - this.hitsBefore;
    this.hitsBefore = this.hits;
    // Which region would have kept more of the keys it lost: the hit rate of each kind of ghost.
    const wg = store.windowGhostHits - before[0]!;
    const mg = store.mainGhostHits - before[1]!;
    const wRate = wg / Math.max(1, store.windowGhosts - before[2]!);
    const mRate = mg / Math.max(1, store.mainGhosts - before[3]!);
    before[0] = store.windowGhostHits;
    before[1] = store.mainGhostHits;
    before[2] = store.windowGhosts;
    before[3] = store.mainGhosts;
    let lean = 0;
    if (wg + mg >= LEAN_MIN_HITS) lean = wRate > LEAN_RATIO * mRate ? 1 : mRate > LEAN_RATIO * wRate ? -1 : 0;
    const sure = wg + mg >= LEAN_SURE_HITS;
    const strong = sure && wRate > STRONG_RATIO * mRate;
    store.setWindowFraction(
      this.climber.sample(sampleHits, this.period, lean, sure, strong, shadowGain, shadowError),
    );
    this.schedule();
  }

  /** Throws `CacheError('closed')` once closed (the byte face's batches check it: an empty one reads nothing). */
  assertOpen(): void {
    if (this.closed) throw new CacheError('closed', 'memory cache is closed');
  }

  private expiryOf(ttl: number | undefined): number {
    if (ttl === undefined) return 0;
    assertTtl(ttl);
    const at = this.now() + ttl;
    // An injected clock that answers NaN or ±Infinity (or a time so large that adding the TTL
    // overflows) gives no expiry time: such an entry never expired on a read and broke the
    // order of the TTL buckets.
    if (!Number.isFinite(at)) {
      const t = this.now();
      throw new CacheError(
        'invalid_ttl',
        `cannot set an expiry: the cache's clock (now) returned ${typeof t === 'number' ? String(t) : typeof t}` +
          (Number.isFinite(t)
            ? ` and ${t} + ttl ${ttl} is not a finite number`
            : ', not a finite number of ms'),
      );
    }
    // 0 means "no expiry" here and in the buckets: an entry due at exactly 0 (an injected clock
    // at −ttl) never expired. The tiniest time before 0 expires at the same readings of the clock.
    return at === 0 ? -Number.MIN_VALUE : at;
  }

  get(key: string): V | undefined {
    // The typeof test guards the hash; anything else is refused on the miss path below. A key
    // longer than MAX_KEY_BYTES units cannot be stored (each unit is at least one byte), so it is
    // refused without hashing it: hashing a 64M-unit key took ~300 ms per get.
    const s =
      typeof key === 'string' && key.length <= MAX_KEY_BYTES ? this.table.find(key, tableHash(key)) : 0;
    if (s !== 0) {
      // No closed check on a hit: `close` empties the map, so a closed cache only misses.
      // Only valid keys are ever stored, so a hit needs no key check; expiry is looked at only
      // once some entry had a TTL, the clock read only for entries that have one.
      if (this.expiry.used) {
        const at = this.expiry.at(s);
        if (at !== 0 && at <= this.now()) return this.missExpired(s);
      }
      this.hits++;
      if (--this.untilClimb === 0) this.climb();
      return this.store.touch(s);
    }
    if (this.closed) this.assertOpen();
    assertKey(key);
    return this.miss();
  }

  /** A read found the entry expired: removes it (reported to onEvict once removed) and misses. */
  private missExpired(s: number): undefined {
    this.store.remove(s, 'expired');
    this.flush();
    return this.miss();
  }

  private miss(): undefined {
    this.misses++;
    if (--this.untilClimb === 0) this.climb();
    return undefined;
  }

  set(key: string, value: V, opts?: SetOptions): boolean {
    if (this.closed) this.assertOpen();
    assertKey(key);
    // `undefined` is how `get` reports a miss: such an entry would read as a miss counted as a hit.
    if (value === undefined) throw UNDEFINED_VALUE(key);
    // Only `undefined` means "no ttl given": `null` is an invalid ttl, as on the byte face.
    const given = opts?.ttl;
    // Checked only when no ttl was read: the common call pays nothing for it.
    if (given === undefined && opts != null) {
      checkSetOptions(opts, 'set');
      checkOptionKeys(opts, 'set');
    }
    const ttl = given === undefined ? this.defaultTtl : given;
    const expireAt = ttl === undefined ? 0 : this.expiryOf(ttl);
    const givenCost = opts?.cost;
    const cost = checkCost(givenCost === undefined ? this.costOf(value, key) : givenCost, this.maxCost, key);
    // A write: a load of this key that began before it must not store over it.
    if (this.loads.size !== 0) this.loads.delete(key);
    this.costAdded += cost;
    const store = this.store;
    const keyTableHash = tableHash(key);
    const s = this.table.find(key, keyTableHash);
    let kept: boolean;
    if (s !== 0) {
      store.setValue(s, value);
      store.touch(s);
      this.expiry.remove(s);
      if (expireAt !== 0) this.expiry.add(s, expireAt);
      kept = store.cost(s) === cost ? true : store.recost(s, cost);
    } else {
      // The sketch's hash only now: an update in place never needs it.
      const fresh = store.alloc(key, value, hashKey(key), cost, keyTableHash);
      this.keysAdded++;
      if (expireAt !== 0) this.expiry.add(fresh, expireAt);
      kept = store.insert(fresh);
    }
    if (this.pending.length !== 0) this.flush();
    return kept;
  }

  /**
   * The live value of `key` without counting an access: no hit or miss in the stats, no frequency
   * recorded, no move in the window. For the byte face's compare-and-set (`ifEquals`), a write:
   * it used to read through `get` and count as a read.
   */
  peek(key: string): V | undefined {
    if (this.closed) this.assertOpen();
    assertKey(key);
    const s = this.table.find(key, tableHash(key));
    if (s === 0) return undefined;
    const at = this.expiry.at(s);
    return at === 0 || at > this.now() ? this.store.value(s) : undefined;
  }

  has(key: string): boolean {
    if (this.closed) this.assertOpen();
    assertKey(key);
    const s = this.table.find(key, tableHash(key));
    if (s === 0) return false;
    const at = this.expiry.at(s);
    return at === 0 || at > this.now();
  }

  delete(key: string): boolean {
    if (this.closed) this.assertOpen();
    assertKey(key);
    if (this.loads.size !== 0) this.loads.delete(key);
    const s = this.table.find(key, tableHash(key));
    if (s === 0) return false;
    const at = this.expiry.at(s);
    const live = at === 0 || at > this.now();
    this.store.remove(s, live ? 'deleted' : 'expired');
    if (this.pending.length !== 0) this.flush();
    return live;
  }

  /** Stores a loaded value unless a write superseded the load; what cannot be cached is served. */
  private fill(key: string, value: V, load: Promise<V>, opts: SetOptions | undefined): V {
    const loads = this.loads;
    if (loads.get(key) !== load) return value;
    // `undefined` is what `get` answers for a miss: such a value could never be served from the
    // cache, so it is returned to the callers and not stored.
    if (this.closed || value === undefined) {
      loads.delete(key);
      return value;
    }
    let cost = opts?.cost;
    if (cost === undefined) {
      // The cost function is the caller's code: one that throws cannot tell the cost, like one
      // returning NaN (below): the callers get their value, it is not cached. (It used to reject
      // every caller of the load although the loader had succeeded.)
      // The load stays in flight while it runs, so a write of the key it makes (set, delete,
      // clear) fences the load like any other write: the value was stored over such a write.
      try {
        cost = this.costOf(value, key);
      } catch (err) {
        if (loads.get(key) === load) loads.delete(key);
        // A cost function that closed the cache: nothing to store into, and nothing to warn about.
        if (!this.closed)
          this.warnCost(`the cost function threw for ${JSON.stringify(key)}: ${thrownMessage(err)}`);
        return value;
      }
      if (loads.get(key) !== load) return value;
    }
    loads.delete(key);
    try {
      this.set(key, value, { ttl: opts?.ttl, cost });
    } catch (err) {
      // The callers still get their value: one too large to cache, or whose cost the cost function
      // cannot tell (NaN, negative, …), is simply not cached.
      if (!(err instanceof CacheError)) throw err;
      if (err.code === 'invalid_cost') this.warnCost(err.message);
      else if (err.code !== 'too_large') throw err;
    }
    return value;
  }

  /** The one-time warning that a loaded value was not cached because its cost is unknown. */
  private warnCost(why: string): void {
    if (this.warnedCost) return;
    this.warnedCost = true;
    process.emitWarning(`memory cache: a loaded value was not cached: ${why}`, {
      code: 'HYPERION_MEMORY_INVALID_COST',
    });
  }

  /**
   * The cost a `set` of `value` under `key` would charge, checked (`invalid_cost`, `too_large`),
   * without storing anything: for batches that must be refused whole before any entry is written.
   * Returns the cost to pass as `{ cost }` so that the cost function runs once per entry.
   */
  costFor(key: string, value: V, cost?: number): number {
    const c = cost === undefined ? this.costOf(value, key) : cost;
    checkCost(c, this.maxCost, key);
    return c;
  }

  getOrSet(key: string, loader: Loader<V>, opts?: SetOptions): Promise<V> {
    try {
      // Misuse is reported before the lookup, so a hit does not hide it (as on the byte face and
      // every other cache): a non-function loader used to resolve `undefined` on a miss, and a bad
      // ttl or cost was only refused on a miss.
      if (this.closed) this.assertOpen();
      assertKey(key);
      checkSetOptions(opts, 'getOrSet');
      if (opts) checkOptionKeys(opts, 'getOrSet');
      if (opts?.ttl !== undefined) assertTtl(opts.ttl);
      if (opts?.cost !== undefined) checkCost(opts.cost, Number.POSITIVE_INFINITY, key);
      assertLoader(loader);
      const cached = this.get(key);
      if (cached !== undefined) return Promise.resolve(cached);
    } catch (err) {
      return Promise.reject(err);
    }
    const loads = this.loads;
    const running = loads.get(key);
    if (running !== undefined) {
      // The key's own loader (directly, or through loaders of other keys, of any cache) asking for
      // the key: the load would wait for itself. It used to hang for good (or until `loadTimeout`).
      if (waitsForItself(loadChain(), this, key, running)) return Promise.reject(selfWaitError('getOrSet'));
      return running;
    }
    // The options as they are now, checked above: the value is stored after the load, and reading
    // the caller's object then took a later change to it (an options object reused in a loop
    // stored every key with the last `ttl`; one changed to a bad `ttl` rejected every caller
    // after the loader had succeeded).
    const fillOpts: SetOptions | undefined = opts == null ? undefined : { ttl: opts.ttl, cost: opts.cost };
    const stops = this.stops;
    let stop!: (err: Error) => void;
    const frame: LoadFrame = loadFrame(this, key, loadChain());
    const loading = new Promise<V>((resolve, reject) => {
      stop = reject;
      // Promise.resolve().then() also turns a synchronous throw of the loader into a rejection.
      // A `close()` between this call and that tick already rejected the callers with `closed`:
      // the loader is then not started (it used to be, calling the user's backend — often being
      // shut down too — for nobody, after close() had returned).
      Promise.resolve()
        .then(() => (this.closed ? CLOSED_BEFORE_LOAD() : runIn(frame, loader)))
        .then(resolve, reject);
    });
    stops.add(stop);
    // Bounded by `loadTimeout`: a loader that never settles would otherwise hold the key's flight,
    // and so every later getOrSet of the key, for good. Once timed out, `fill` drops the late value.
    const load: Promise<V> = withTimeout(
      loading,
      this.loadTimeout,
      // Names the key, as the tiered cache's does (it did not: which load timed out was a guess).
      () =>
        new CacheError(
          'timeout',
          `the loader of ${JSON.stringify(key)} did not settle within ${this.loadTimeout} ms`,
        ),
    ).then(
      (value) => {
        stops.delete(stop);
        settle(frame);
        return this.fill(key, value, load, fillOpts);
      },
      (err: unknown) => {
        stops.delete(stop);
        settle(frame);
        if (loads.get(key) === load) loads.delete(key);
        throw err;
      },
    );
    frame.load = load;
    loads.set(key, load);
    return load;
  }

  keys(): string[] {
    if (this.closed) this.assertOpen();
    return this.store.residentSlots().map((s) => this.store.key(s));
  }

  clear(): void {
    if (this.closed) this.assertOpen();
    this.loads.clear();
    this.expiry.clear();
    this.store.clear();
  }

  stats(): MemoryCacheStats {
    const { hits, misses } = this;
    if (!this.metrics) return { hits, misses, hitRatio: hitRatio(hits, misses) };
    return {
      hits,
      misses,
      hitRatio: hitRatio(hits, misses),
      keysAdded: this.keysAdded,
      keysEvicted: this.keysEvicted,
      keysRejected: this.keysRejected,
      keysExpired: this.keysExpired,
      costAdded: this.costAdded,
      costEvicted: this.costEvicted,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.loads.clear();
    // Callers still waiting for a load get `closed` now; the loader runs on, its result is dropped.
    if (this.stops.size !== 0) {
      const err = new CacheError('closed', 'memory cache was closed while the load ran');
      for (const stop of this.stops) stop(err);
      this.stops.clear();
    }
    this.expiry.close();
    this.store.clear();
  }

  get size(): number {
    return this.table.size;
  }

  get cost(): number {
    return this.store.totalCost;
  }
}
