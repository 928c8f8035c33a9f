/**
 * A two-level cache: a process-local L1 in front of a shared L2, both plain `Cache`s. Reads go
 * L1 → L2 → loader, with one loader call per key per process however many callers miss at once.
 * Writes go to L2, then L1, then an invalidation (keys only) tells the other instances to drop
 * their L1 copies. L2 is treated as fallible: every call is time-bounded and a circuit breaker
 * stops calling it during an outage, while L1 and the loader keep answering.
 *
 * Both levels hold an envelope (see ./tiered/envelope.ts) carrying the fresh and grace deadlines,
 * so stale-if-error and early refresh work whatever the levels are. This module imports nothing
 * but the core.
 */
import type { Bytes, Cache, CacheEntry, CacheStats, Loader } from '../core/contracts.js';
import { CacheError, typeName } from '../core/errors.js';
import { assertBytes, assertKey, assertTtl, hitRatio } from '../core/validate.js';
import { type Breaker, type BreakerState, createBreaker, NEVER_OPEN } from './tiered/breaker.js';
import { createFence, type Invalidation } from './tiered/coherence.js';
import { decodeEnvelope, type Envelope, encodeEnvelope } from './tiered/envelope.js';
import { resolveOptions, type TieredCacheOptions } from './tiered/options.js';
import { createDeadlineQueue, type Deadline, jitterTtl, sleep, withTimeout } from './tiered/timing.js';

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

/** Error codes that mean "L2 could not answer" (they feed the breaker); others are the caller's problem. */
const OUTAGE_CODES = new Set(['timeout', 'unavailable', 'backend']);

function isOutage(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return !(err instanceof CacheError) || OUTAGE_CODES.has(code as string);
}

const SKIPPED = () => new CacheError('unavailable', 'L2 skipped: its circuit breaker is open');

/** The synchronous reader of a cache that has one (`sync.get`), else `undefined`. */
function syncFace(cache: Cache): { get(key: string): Bytes | undefined } | undefined {
  const sync = (cache as { sync?: { get?: unknown } }).sync;
  return typeof sync?.get === 'function' ? (sync as { get(key: string): Bytes | undefined }) : undefined;
}

function decodeRaw(raw: Bytes | undefined): Envelope | undefined {
  return raw === undefined ? undefined : decodeEnvelope(raw);
}

function randomId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

interface Fetched {
  env: Envelope;
  /** The raw bytes as read (reused for the L1 copy when no re-encoding is needed). */
  raw: Bytes;
  /** A value without envelope, written by something other than a tiered cache. */
  foreign: boolean;
}

/** Builds a tiered cache over `l1` and `l2`; see `TieredCacheOptions` for every option and its default. */
export function createTieredCache(options: TieredCacheOptions): TieredCache {
  const o = resolveOptions(options);
  const { l1, l2, now, random, grace, bus, lease, logger } = o;
  // A synchronous face (as the memory cache's `sync`) saves a promise per L1 read on the hot path.
  const l1Sync = syncFace(l1);
  const instanceId = o.instanceId ?? randomId();
  const breaker: Breaker = o.breaker
    ? createBreaker(o.breaker.failures, o.breaker.cooldown, now)
    : NEVER_OPEN;
  const fence = createFence();
  const deadlines = o.l2Timeout === Number.POSITIVE_INFINITY ? undefined : createDeadlineQueue(o.l2Timeout);
  const flights = new Map<string, Promise<TieredResult>>();

  let closed = false;
  let closing: Promise<void> | undefined;
  let unsubscribe: (() => void) | undefined;
  let l1Hits = 0;
  let l2Hits = 0;
  let misses = 0;
  let staleServes = 0;
  let loaderCalls = 0;
  let loaderErrors = 0;
  let l2Errors = 0;
  let l2Skipped = 0;
  let refreshes = 0;
  let leaseWaits = 0;
  let leaseTimeouts = 0;
  let invalidationsSent = 0;
  let invalidationsReceived = 0;
  let busReconnects = 0;
  let busErrors = 0;

  const ignore = () => {};

  function assertOpen(): void {
    if (closed) throw new CacheError('closed', 'tiered cache is closed');
  }

  // ------------------------------------------------------------------ L2 guard

  /**
   * Runs one L2 (or lease) call under the breaker and the timeout, keeping the counters. Written
   * as one promise rather than nested async functions: it is on every L2 hit.
   */
  function guarded<T>(what: string, call: () => Promise<T>): Promise<T> {
    if (!breaker.allow()) {
      l2Skipped++;
      return Promise.reject(SKIPPED());
    }
    const recovering = breaker.state() !== 'closed';
    return new Promise<T>((resolve, reject) => {
      let deadline: Deadline | undefined;
      let done = false;
      const fail = (err: unknown) => {
        if (done) return;
        done = true;
        if (deadline) deadline.fire = undefined;
        if (isOutage(err)) {
          l2Errors++;
          const opens = breaker.opens;
          breaker.failure();
          if (breaker.opens !== opens)
            logger?.warn('tiered cache: L2 circuit breaker opened', { cache: 'tiered', instanceId });
        } else breaker.success();
        reject(err);
      };
      let pending: Promise<T>;
      try {
        pending = call();
      } catch (err) {
        fail(err);
        return;
      }
      deadline = deadlines?.track(() =>
        fail(new CacheError('timeout', `L2 ${what} did not answer within ${o.l2Timeout} ms`)),
      );
      pending.then((value) => {
        if (done) return;
        done = true;
        if (deadline) deadline.fire = undefined;
        breaker.success();
        if (recovering)
          logger?.info('tiered cache: L2 circuit breaker closed', { cache: 'tiered', instanceId });
        resolve(value);
      }, fail);
    });
  }

  /** For writes: an L2 failure becomes a CacheError naming L2; a caller error passes unchanged. */
  function l2WriteError(err: unknown): unknown {
    if (err instanceof CacheError) return err;
    return new CacheError('backend', 'L2 write failed', { cause: err });
  }

  // ------------------------------------------------------------------ envelopes

  function makeEnvelope(value: Bytes, ttl: number | undefined): { bytes: Bytes; env: Envelope } {
    const t = now();
    const life = ttl === undefined ? undefined : jitterTtl(ttl, o.jitter, random);
    const freshUntil = life === undefined ? Number.POSITIVE_INFINITY : t + life;
    const staleUntil = freshUntil + grace;
    const bytes = encodeEnvelope(value, freshUntil, staleUntil, life ?? 0);
    return { bytes, env: { value, freshUntil, staleUntil, ttl: life ?? 0 } };
  }

  /** Physical TTL (ms) for a level, from an absolute deadline; `undefined` = no expiry. */
  function levelTtl(until: number, t: number): number | undefined {
    if (until === Number.POSITIVE_INFINITY) return undefined;
    return Math.max(1, Math.ceil(until - t));
  }

  function readFetched(raw: Bytes): Fetched {
    const env = decodeEnvelope(raw);
    if (env) return { env, raw, foreign: false };
    const inf = Number.POSITIVE_INFINITY;
    return { env: { value: raw, freshUntil: inf, staleUntil: inf, ttl: 0 }, raw, foreign: true };
  }

  /**
   * Copies an entry into L1, its freshness capped at `l1Ttl`, unless the key was invalidated since
   * `mark` (then the value may be older than what another writer just stored).
   */
  function fillL1(key: string, f: Fetched, mark: number): void {
    const t = now();
    let { freshUntil, staleUntil, ttl } = f.env;
    let bytes = f.raw;
    if (f.foreign) {
      // Expiry unknown: cache it locally only for a bounded time, if one was configured.
      if (o.l1Ttl === undefined) return;
      freshUntil = t + o.l1Ttl;
      staleUntil = freshUntil;
      ttl = o.l1Ttl;
      bytes = encodeEnvelope(f.env.value, freshUntil, staleUntil, ttl);
    } else if (o.l1Ttl !== undefined && t + o.l1Ttl < freshUntil) {
      freshUntil = t + o.l1Ttl;
      staleUntil = Math.min(staleUntil, freshUntil + grace);
      ttl = o.l1Ttl;
      bytes = encodeEnvelope(f.env.value, freshUntil, staleUntil, ttl);
    }
    if (staleUntil <= t || !fence.stillValid(key, mark)) return;
    l1.set(key, bytes, levelTtl(staleUntil, t)).catch(ignore);
  }

  // ------------------------------------------------------------------ flights

  /** Joins the flight for `key` or starts `fn` as the new one (one per key: the singleflight spans levels). */
  function flight(key: string, fn: () => Promise<TieredResult>): Promise<TieredResult> {
    const running = flights.get(key);
    if (running) return running;
    const p = fn();
    flights.set(key, p);
    const done = () => {
      if (flights.get(key) === p) flights.delete(key);
    };
    p.then(done, done);
    return p;
  }

  /** Drops a key locally: later fills from older reads are fenced off, new readers start a new flight. */
  function dropLocal(key: string): Promise<unknown> {
    fence.invalidate(key);
    flights.delete(key);
    return l1.delete(key).catch(ignore);
  }

  function dropAllLocal(): Promise<unknown> {
    fence.invalidateAll();
    flights.clear();
    return l1.clear().catch(ignore);
  }

  function count(source: TieredSource): void {
    if (source === 'l1') l1Hits++;
    else if (source === 'l2') l2Hits++;
    else {
      misses++;
      if (source === 'stale') staleServes++;
    }
  }

  function staleOrThrow(stale: Envelope | undefined, err: unknown): TieredResult {
    if (stale && now() < stale.staleUntil) return { value: stale.value, source: 'stale', stale: true };
    throw err;
  }

  // ------------------------------------------------------------------ read path

  /** L2 then (lease then) loader, run as the key's single flight. */
  async function fetchThrough(
    key: string,
    loader: Loader<Bytes>,
    ttl: number | undefined,
    staleL1: Envelope | undefined,
  ): Promise<TieredResult> {
    const mark = fence.mark();
    let stale = staleL1;
    let l2Down = false;
    try {
      const raw = await guarded('get', () => l2.get(key));
      if (raw !== undefined) {
        const f = readFetched(raw);
        if (now() < f.env.freshUntil) {
          fillL1(key, f, mark);
          return { value: f.env.value, source: 'l2', stale: false };
        }
        if (!stale || f.env.staleUntil > stale.staleUntil) stale = f.env;
      }
    } catch (err) {
      if (!isOutage(err)) throw err;
      l2Down = true;
    }
    return load(key, loader, ttl, stale, mark, l2Down);
  }

  /** Calls the loader (after the lease, if any), stores the result in L2 then L1. */
  async function load(
    key: string,
    loader: Loader<Bytes>,
    ttl: number | undefined,
    stale: Envelope | undefined,
    mark: number,
    l2Down: boolean,
  ): Promise<TieredResult> {
    let release: (() => Promise<void>) | undefined;
    if (lease && !l2Down) {
      let taken: (() => Promise<void>) | undefined | false = false;
      try {
        taken = await guarded('lease', () => lease.acquire(key));
      } catch {
        // Lease store unreachable: load locally at once rather than wait for nothing.
      }
      if (taken === undefined) {
        const waited = await awaitHolder(key, mark);
        if (waited) return waited;
      } else if (taken) {
        release = taken;
      }
    }
    try {
      loaderCalls++;
      let value: Bytes;
      try {
        value = await loader();
        assertBytes(value);
      } catch (err) {
        loaderErrors++;
        return staleOrThrow(stale, err);
      }
      await store(key, value, ttl, mark);
      return { value, source: 'loader', stale: false };
    } finally {
      if (release) guarded('lease release', release).catch(ignore);
    }
  }

  /** Another instance holds the lease: poll L2 for its value, a bounded number of times. */
  async function awaitHolder(key: string, mark: number): Promise<TieredResult | undefined> {
    const polls = Math.ceil(o.leaseWait / o.leasePoll);
    for (let i = 0; i < polls; i++) {
      await sleep(o.leasePoll);
      if (closed) break;
      let raw: Bytes | undefined;
      try {
        raw = await guarded('get', () => l2.get(key));
      } catch {
        break;
      }
      if (raw === undefined) continue;
      const f = readFetched(raw);
      if (now() < f.env.freshUntil) {
        leaseWaits++;
        fillL1(key, f, mark);
        return { value: f.env.value, source: 'l2', stale: false };
      }
    }
    leaseTimeouts++;
    return undefined;
  }

  /** Stores a loaded value: L2 (best effort), then L1; skipped when the key was written meanwhile. */
  async function store(key: string, value: Bytes, ttl: number | undefined, mark: number): Promise<void> {
    if (!fence.stillValid(key, mark)) return;
    const { bytes, env } = makeEnvelope(value, ttl);
    try {
      await guarded('set', () => l2.set(key, bytes, levelTtl(env.staleUntil, now())));
    } catch {
      // The value is still good for this process; L2 will be filled by a later miss.
    }
    fillL1(key, { env, raw: bytes, foreign: false }, mark);
  }

  /** Background reload of a hot key near expiry; at most one per key (it is the key's flight). */
  function maybeRefresh(
    key: string,
    env: Envelope,
    t: number,
    loader: Loader<Bytes>,
    ttl: number | undefined,
  ): void {
    if (o.earlyRefresh === 0 || env.ttl <= 0 || closed) return;
    const window = env.ttl * o.earlyRefresh;
    const remaining = env.freshUntil - t;
    if (remaining > window || flights.has(key)) return;
    // The chance rises linearly from 0 at the start of the window to 1 at expiry, so a hot key
    // is refreshed early and a cold one is not refreshed for nothing.
    if (random() >= 1 - remaining / window) return;
    refreshes++;
    flight(key, () => refresh(key, loader, ttl, env)).catch(ignore);
  }

  async function refresh(
    key: string,
    loader: Loader<Bytes>,
    ttl: number | undefined,
    current: Envelope,
  ): Promise<TieredResult> {
    const mark = fence.mark();
    let l2Down = false;
    try {
      // Another instance may have refreshed L2 already: take its value if it is not near expiry too.
      const raw = await guarded('get', () => l2.get(key));
      if (raw !== undefined) {
        const f = readFetched(raw);
        const t = now();
        if (f.env.freshUntil > current.freshUntil && f.env.freshUntil - t > f.env.ttl * o.earlyRefresh) {
          fillL1(key, f, mark);
          return { value: f.env.value, source: 'l2', stale: false };
        }
      }
    } catch (err) {
      if (!isOutage(err)) throw err;
      l2Down = true;
    }
    return load(key, loader, ttl, current, mark, l2Down);
  }

  function checkLoader(loader: unknown): void {
    if (typeof loader !== 'function')
      throw new CacheError('invalid_value', `loader must be a function, received ${typeName(loader)}`);
  }

  async function getOrSetWithMeta(key: string, loader: Loader<Bytes>, ttl = o.ttl): Promise<TieredResult> {
    assertOpen();
    assertKey(key);
    assertTtl(ttl);
    checkLoader(loader);
    const t = now();
    const env = decodeRaw(l1Sync ? l1Sync.get(key) : await l1.get(key));
    if (env && t < env.freshUntil) {
      l1Hits++;
      maybeRefresh(key, env, t, loader, ttl);
      return { value: env.value, source: 'l1', stale: false };
    }
    const stale = env && t < env.staleUntil ? env : undefined;
    const result = await flight(key, () => fetchThrough(key, loader, ttl, stale));
    count(result.source);
    return result;
  }

  async function getWithMeta(key: string): Promise<TieredResult | undefined> {
    assertOpen();
    assertKey(key);
    const t = now();
    const env = decodeRaw(l1Sync ? l1Sync.get(key) : await l1.get(key));
    if (env && t < env.freshUntil) {
      l1Hits++;
      return { value: env.value, source: 'l1', stale: false };
    }
    return readL2(key, env);
  }

  /**
   * The L2 half of `get`: a fresh L2 value (copied into L1), else a miss. When L2 cannot answer,
   * `staleL1` is served if it is inside its grace window.
   */
  async function readL2(key: string, staleL1: Envelope | undefined): Promise<TieredResult | undefined> {
    const mark = fence.mark();
    let raw: Bytes | undefined;
    try {
      raw = await guarded('get', () => l2.get(key));
    } catch (err) {
      if (!isOutage(err)) throw err;
      misses++;
      if (staleL1 && now() < staleL1.staleUntil) {
        staleServes++;
        return { value: staleL1.value, source: 'stale', stale: true };
      }
      return undefined;
    }
    if (raw !== undefined) {
      const f = readFetched(raw);
      if (now() < f.env.freshUntil) {
        l2Hits++;
        fillL1(key, f, mark);
        return { value: f.env.value, source: 'l2', stale: false };
      }
    }
    misses++;
    return undefined;
  }

  // ------------------------------------------------------------------ batches

  async function getOrSetMany(keys: readonly string[], loadMany: ManyLoader, ttl = o.ttl): Promise<Bytes[]> {
    assertOpen();
    if (!Array.isArray(keys))
      throw new CacheError('invalid_key', `keys must be an array, received ${typeName(keys)}`);
    for (const k of keys) assertKey(k);
    assertTtl(ttl);
    checkLoader(loadMany);
    const unique = [...new Set(keys)];
    const results = new Map<string, Bytes>();
    if (unique.length === 0) return [];
    const t = now();
    const raws = await l1.getMany(unique);
    const staleL1 = new Map<string, Envelope>();
    const waits: Promise<void>[] = [];
    const mine: string[] = [];
    for (let i = 0; i < unique.length; i++) {
      const key = unique[i]!;
      const raw = raws[i];
      const env = raw === undefined ? undefined : decodeEnvelope(raw);
      if (env && t < env.freshUntil) {
        l1Hits++;
        results.set(key, env.value);
        continue;
      }
      if (env && t < env.staleUntil) staleL1.set(key, env);
      const running = flights.get(key);
      if (running) waits.push(running.then((r) => settle(key, r)));
      else mine.push(key);
    }
    function settle(key: string, r: TieredResult): void {
      count(r.source);
      results.set(key, r.value);
    }
    if (mine.length > 0) {
      const batch = loadBatch(mine, loadMany, ttl, staleL1);
      batch.catch(ignore);
      for (const key of mine) {
        const p = flight(key, () => batch.then((m) => m.get(key)!));
        waits.push(p.then((r) => settle(key, r)));
      }
    }
    await Promise.all(waits);
    return keys.map((k) => results.get(k)!);
  }

  /** One L2 getMany for `keys`, one loadMany for what L2 lacks; per-key results (errors as rejections). */
  async function loadBatch(
    keys: string[],
    loadMany: ManyLoader,
    ttl: number | undefined,
    staleL1: Map<string, Envelope>,
  ): Promise<Map<string, TieredResult>> {
    const mark = fence.mark();
    const out = new Map<string, TieredResult>();
    const stale = new Map(staleL1);
    let rest = keys;
    try {
      const raws = await guarded('getMany', () => l2.getMany(keys));
      rest = [];
      const t = now();
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const raw = raws[i];
        if (raw === undefined) {
          rest.push(key);
          continue;
        }
        const f = readFetched(raw);
        if (t < f.env.freshUntil) {
          fillL1(key, f, mark);
          out.set(key, { value: f.env.value, source: 'l2', stale: false });
          continue;
        }
        const prev = stale.get(key);
        if (!prev || f.env.staleUntil > prev.staleUntil) stale.set(key, f.env);
        rest.push(key);
      }
    } catch (err) {
      if (!isOutage(err)) throw err;
    }
    if (rest.length === 0) return out;

    loaderCalls++;
    let values: readonly Bytes[];
    try {
      values = await loadMany(rest);
      if (!Array.isArray(values) || values.length !== rest.length)
        throw new CacheError(
          'invalid_value',
          `loadMany must return an array of ${rest.length} values, received ${Array.isArray(values) ? `${values.length}` : typeName(values)}`,
        );
      for (const v of values) assertBytes(v);
    } catch (err) {
      loaderErrors++;
      // Keys with a value inside grace are served stale; the others get the error.
      for (const key of rest) {
        const s = stale.get(key);
        if (!(s && now() < s.staleUntil)) throw err;
        out.set(key, { value: s.value, source: 'stale', stale: true });
      }
      return out;
    }
    const entries: CacheEntry[] = [];
    const fills: [string, Fetched][] = [];
    const t = now();
    for (let i = 0; i < rest.length; i++) {
      const key = rest[i]!;
      const value = values[i]!;
      out.set(key, { value, source: 'loader', stale: false });
      if (!fence.stillValid(key, mark)) continue;
      const { bytes, env } = makeEnvelope(value, ttl);
      entries.push({ key, value: bytes, ttl: levelTtl(env.staleUntil, t) });
      fills.push([key, { env, raw: bytes, foreign: false }]);
    }
    if (entries.length > 0) {
      try {
        await guarded('setMany', () => l2.setMany(entries));
      } catch {
        // Best effort, as for single loads.
      }
      for (const [key, f] of fills) fillL1(key, f, mark);
    }
    return out;
  }

  // ------------------------------------------------------------------ coherence

  async function publish(message: Omit<Invalidation, 'origin'>): Promise<void> {
    if (!bus) return;
    try {
      await withTimeout(bus.publish({ origin: instanceId, ...message }), o.l2Timeout, 'invalidation publish');
      invalidationsSent++;
    } catch {
      busErrors++;
    }
  }

  function onInvalidation(message: Invalidation): void {
    if (closed || message.origin === instanceId) return;
    invalidationsReceived++;
    if (message.all) {
      dropAllLocal();
      return;
    }
    for (const key of message.keys ?? []) dropLocal(key);
  }

  function onReconnect(): void {
    if (closed) return;
    busReconnects++;
    logger?.warn('tiered cache: invalidation bus reconnected, L1 cleared', { cache: 'tiered', instanceId });
    dropAllLocal();
  }

  const ready: Promise<void> = bus
    ? bus.subscribe(onInvalidation, onReconnect).then(
        (unsub) => {
          if (closed) unsub();
          else unsubscribe = unsub;
        },
        (err) => {
          busErrors++;
          throw err;
        },
      )
    : Promise.resolve();
  ready.catch(ignore);

  // ------------------------------------------------------------------ the contract

  return {
    name: 'tiered',
    instanceId,
    ready,

    async get(key) {
      const t = now();
      assertOpen();
      assertKey(key);
      const env = decodeRaw(l1Sync ? l1Sync.get(key) : await l1.get(key));
      if (env && t < env.freshUntil) {
        l1Hits++;
        return env.value;
      }
      return (await readL2(key, undefined))?.value;
    },

    getWithMeta,

    async set(key, value, ttl = o.ttl) {
      assertOpen();
      assertKey(key);
      assertBytes(value);
      assertTtl(ttl);
      const { bytes, env } = makeEnvelope(value, ttl);
      let stored: boolean;
      try {
        stored = await guarded('set', () => l2.set(key, bytes, levelTtl(env.staleUntil, now())));
      } catch (err) {
        // L2 may or may not hold the new value: make every L1 ask L2 again.
        await dropLocal(key);
        await publish({ keys: [key] });
        throw l2WriteError(err);
      }
      fence.invalidate(key);
      flights.delete(key);
      if (stored) fillL1(key, { env, raw: bytes, foreign: false }, fence.mark());
      else await l1.delete(key).catch(ignore);
      await publish({ keys: [key] });
      return stored;
    },

    async setMany(entries) {
      assertOpen();
      if (!Array.isArray(entries))
        throw new CacheError('invalid_value', `entries must be an array, received ${typeName(entries)}`);
      for (const e of entries) {
        assertKey(e?.key);
        assertBytes(e.value);
        assertTtl(e.ttl);
      }
      if (entries.length === 0) return;
      const t = now();
      const made = entries.map((e) => ({ key: e.key, ...makeEnvelope(e.value, e.ttl ?? o.ttl) }));
      const keys = made.map((m) => m.key);
      try {
        await guarded('setMany', () =>
          l2.setMany(made.map((m) => ({ key: m.key, value: m.bytes, ttl: levelTtl(m.env.staleUntil, t) }))),
        );
      } catch (err) {
        await Promise.all(keys.map(dropLocal));
        await publish({ keys });
        throw l2WriteError(err);
      }
      for (const key of keys) {
        fence.invalidate(key);
        flights.delete(key);
      }
      const mark = fence.mark();
      for (const m of made) fillL1(m.key, { env: m.env, raw: m.bytes, foreign: false }, mark);
      await publish({ keys });
    },

    async delete(key) {
      assertOpen();
      assertKey(key);
      let removed: boolean;
      try {
        removed = await guarded('delete', () => l2.delete(key));
      } catch (err) {
        await dropLocal(key);
        await publish({ keys: [key] });
        throw l2WriteError(err);
      }
      fence.invalidate(key);
      flights.delete(key);
      const local = await l1.delete(key).catch(() => false);
      await publish({ keys: [key] });
      return removed || local;
    },

    async has(key) {
      assertOpen();
      assertKey(key);
      const t = now();
      const env = decodeRaw(l1Sync ? l1Sync.get(key) : await l1.get(key));
      if (env && t < env.freshUntil) return true;
      try {
        const raw = await guarded('get', () => l2.get(key));
        return raw !== undefined && now() < readFetched(raw).env.freshUntil;
      } catch (err) {
        if (!isOutage(err)) throw err;
        return false;
      }
    },

    async getMany(keys) {
      assertOpen();
      if (!Array.isArray(keys))
        throw new CacheError('invalid_key', `keys must be an array, received ${typeName(keys)}`);
      for (const k of keys) assertKey(k);
      if (keys.length === 0) return [];
      const t = now();
      const raws = await l1.getMany(keys);
      const out: (Bytes | undefined)[] = new Array(keys.length);
      const missing: number[] = [];
      for (let i = 0; i < keys.length; i++) {
        const raw = raws[i];
        const env = raw === undefined ? undefined : decodeEnvelope(raw);
        if (env && t < env.freshUntil) {
          l1Hits++;
          out[i] = env.value;
        } else missing.push(i);
      }
      if (missing.length === 0) return out;
      const mark = fence.mark();
      const wanted = missing.map((i) => keys[i]!);
      let found: (Bytes | undefined)[] = [];
      try {
        found = await guarded('getMany', () => l2.getMany(wanted));
      } catch (err) {
        if (!isOutage(err)) throw err;
      }
      const t2 = now();
      for (let j = 0; j < missing.length; j++) {
        const raw = found[j];
        const f = raw === undefined ? undefined : readFetched(raw);
        if (f && t2 < f.env.freshUntil) {
          l2Hits++;
          out[missing[j]!] = f.env.value;
          fillL1(wanted[j]!, f, mark);
        } else {
          misses++;
          out[missing[j]!] = undefined;
        }
      }
      return out;
    },

    async clear() {
      assertOpen();
      try {
        await guarded('clear', () => l2.clear());
      } catch (err) {
        await dropAllLocal();
        await publish({ all: true });
        throw l2WriteError(err);
      }
      await dropAllLocal();
      await publish({ all: true });
    },

    async getOrSet(key, loader, ttl = o.ttl) {
      // The L1-hit path is inlined: it is the hot one, and it allocates no result object.
      const t = now();
      assertOpen();
      assertKey(key);
      assertTtl(ttl);
      checkLoader(loader);
      const env = decodeRaw(l1Sync ? l1Sync.get(key) : await l1.get(key));
      if (env && t < env.freshUntil) {
        l1Hits++;
        if (o.earlyRefresh > 0) maybeRefresh(key, env, t, loader, ttl);
        return env.value;
      }
      const stale = env && t < env.staleUntil ? env : undefined;
      const result = await flight(key, () => fetchThrough(key, loader, ttl, stale));
      count(result.source);
      return result.value;
    },

    getOrSetWithMeta,
    getOrSetMany,

    breakerState: () => breaker.state(),

    stats() {
      const hits = l1Hits + l2Hits;
      return {
        hits,
        misses,
        hitRatio: hitRatio(hits, misses),
        errors: l2Errors,
        l1Hits,
        l2Hits,
        staleServes,
        loaderCalls,
        loaderErrors,
        breakerOpens: breaker.opens,
        l2Errors,
        l2Skipped,
        refreshes,
        leaseWaits,
        leaseTimeouts,
        invalidationsSent,
        invalidationsReceived,
        busReconnects,
        busErrors,
      };
    },

    close() {
      closing ??= (async () => {
        closed = true;
        unsubscribe?.();
        const errors: unknown[] = [];
        for (const part of [bus, l2, l1]) {
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
