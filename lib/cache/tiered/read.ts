/**
 * The single-key read path: L1, then L2, then the loader, run as one flight per key. Around it sit
 * the ways a read avoids or survives a load: a stale copy served within the grace window when the
 * loader or L2 fails, an early background refresh of hot keys near expiry, and the cross-instance
 * lease under which one instance loads while the others wait for its value in L2.
 */
import { runDetached } from '../../core/background.js';
import type { Bytes, Loader } from '../../core/contracts.js';
import { CacheError, typeName } from '../../core/errors.js';
import { createLoadBound } from '../../core/load-bound.js';
import {
  assertNotOwnLoad,
  type LoadFrame,
  loadChain,
  loadFrame,
  runIn,
  settles,
} from '../../core/load-chain.js';
import { MAX_TIMER_MS } from '../../core/options.js';
import { withTimeout } from '../../core/timeout.js';
import { assertBytes, assertTtl } from '../../core/validate.js';
import type { Context } from './context.js';
import type { Envelope } from './envelope.js';
import { assertTieredKey } from './keys.js';
import { isOutage } from './l2.js';
import { decodeRaw, type Fetched, ignore, levelTtl, peekFace, readFetched, uncountedRead } from './local.js';
import { countSource } from './stats.js';
import type { TieredResult } from './types.js';

/** Throws `CacheError('invalid_value')` unless `loader` is a function. */
export function checkLoader(loader: unknown): void {
  if (typeof loader !== 'function')
    throw new CacheError('invalid_value', `loader must be a function, received ${typeName(loader)}`);
}

/** What L2 said before a load: no value, a value (stale), or no answer. */
type L2State = 'missing' | 'present' | 'down';

export interface ReadPath {
  /**
   * Calls a loader (of `what`, for the timeout message) as the load `frame`, bounded by
   * `loadTimeout`; the batch path uses it too.
   */
  bounded<T>(what: string, loader: () => T | Promise<T>, frame: LoadFrame): Promise<T>;
  /** For `close()`: the `loadTimeout` timers of loads in flight stop keeping the process alive. */
  releaseLoads(): void;
  /** For `close()`: lease waiters between two polls wake now (and reject with `closed`). */
  wakeWaiters(): void;
  get(key: string): Promise<Bytes | undefined>;
  getWithMeta(key: string): Promise<TieredResult | undefined>;
  has(key: string): Promise<boolean>;
  getOrSet(key: string, loader: Loader<Bytes>, ttl?: number): Promise<Bytes>;
  getOrSetWithMeta(key: string, loader: Loader<Bytes>, ttl?: number): Promise<TieredResult>;
}

/** At most one warning per this many ms about lease acquires (and, apart, releases) that failed. */
const LEASE_WARN_EVERY = 60_000;

export function createReadPath(ctx: Context): ReadPath {
  const {
    o,
    counters: c,
    fence,
    behind,
    guarded,
    l2Read,
    local,
    state,
    assertOpen,
    l2Write,
    leases,
    publish,
    untracked,
  } = ctx;
  const { l1, l2, now, random, lease } = o;
  const { l1Sync } = local;
  // `has` counts in neither level's stats (nor L1's frequency): ./local.ts, uncountedRead.
  // L1's synchronous peek reads it when called, as `sync.get` did.
  const l1Peek = peekFace(l1);
  const peekL1 = uncountedRead(l1);
  const peekL2 = uncountedRead(l2);
  const loadBound = createLoadBound();

  /** L2 then (lease then) loader, run as the key's single flight. */
  async function fetchThrough(
    key: string,
    loader: Loader<Bytes>,
    ttl: number | undefined,
    staleL1: Envelope | undefined,
    leave: () => void,
    frame: LoadFrame,
  ): Promise<TieredResult> {
    const mark = fence.mark();
    const ticket = fence.ticket();
    const asked = performance.now();
    let stale = staleL1;
    let l2State: L2State = 'missing';
    let seen: Bytes | undefined;
    let replaces = false;
    const since = behind.mark();
    try {
      const f = await l2Read.get(key);
      if (f === undefined) behind.settle(key, since);
      else if (behind.has(key)) {
        // L2's value may be older than one served here (./behind.ts): neither served nor kept as
        // stale; the load below replaces exactly those bytes.
        l2State = 'present';
        seen = f.raw;
        replaces = now() < f.env.freshUntil;
      } else {
        if (now() < f.env.freshUntil) return local.fromL2(key, f, mark, ticket);
        if (!stale || f.env.staleUntil > stale.staleUntil) stale = f.env;
        l2State = 'present';
        seen = f.raw;
      }
    } catch (err) {
      if (!isOutage(err)) throw err;
      l2State = 'down';
    }
    return load(
      key,
      loader,
      ttl,
      stale,
      mark,
      ticket,
      l2State,
      budgetLeft(asked),
      leave,
      frame,
      seen,
      replaces,
    );
  }

  /** What is left of a miss's one L2 budget (`l2Timeout`) once its L2 read, begun at `asked`, answered. */
  function budgetLeft(asked: number): number {
    return o.l2Timeout - (performance.now() - asked);
  }

  /**
   * Calls the loader (after the lease, if any), stores the result in L1 then L2 (within `budget`,
   * what is left of the miss's L2 budget). `seen`: the (stale) bytes L2 held when `l2State` is
   * `present`; `replaces`: those bytes were fresh (passed over as possibly older, ./behind.ts).
   */
  async function load(
    key: string,
    loader: Loader<Bytes>,
    ttl: number | undefined,
    stale: Envelope | undefined,
    mark: number,
    ticket: number,
    l2State: L2State,
    budget: number,
    leave: () => void,
    frame: LoadFrame,
    seen?: Bytes,
    replaces = false,
  ): Promise<TieredResult> {
    let release: (() => Promise<void>) | undefined;
    // Taking the lease is a wait for L2 of this same call: it comes out of its one budget, so the
    // store below gets only what the read and the lease left. Before, a lease acquire that timed
    // out and a store that did too made a getOrSet wait 2 × l2Timeout for L2 (607 ms at
    // l2Timeout 300 with Redis stopping after the read). Waiting for a holder is `leaseWait`'s.
    let leaseSpent = 0;
    if (lease && l2State !== 'down') {
      let taken: (() => Promise<void>) | undefined | false = false;
      const asking = performance.now();
      // The acquire was cut because the budget ran out: nothing is left for the store. Measuring
      // is not enough: a Node timer may fire ~1-2 ms before performance.now() says its delay passed
      // (libuv's coarse, truncated loop clock), so the store was sent with that crumb (seen in CI).
      let spentAll = false;
      try {
        // Bounded by what the read left: the acquire had an l2Timeout of its own, so a slow Redis
        // (each round trip just under l2Timeout) made a miss wait ~2 × l2Timeout for L2 before its
        // loader was called (566 ms at l2Timeout 300). With nothing left, the lease is not asked.
        if (!(budget >= 1)) {
          spentAll = true;
          throw new CacheError('timeout', 'the L2 read spent l2Timeout: no time left to take the lease');
        }
        taken = await takeLease(key, budget, () => {
          spentAll = true;
        });
      } catch (err) {
        // close() aborted the acquire: reject with `closed`, as when the lease arrived after it.
        assertOpen();
        // Lease store unreachable: load locally at once rather than wait for nothing.
        leaseFailed(err);
      }
      leaseSpent = spentAll ? budget : performance.now() - asking;
      if (taken === undefined) {
        const waited = await awaitHolder(key, mark);
        if (typeof waited === 'function') release = waited;
        else if (waited) return waited;
      } else if (taken) {
        release = taken;
      }
    }
    try {
      // close() began while the lease was being taken: it releases the lease; do not load.
      if (release) assertOpen();
      // Callers from now on start a new flight rather than join one whose loader began before a write
      // that this process may never hear of (ctx.untracked); those that joined already began
      // before the loader did.
      if (untracked(l2State !== 'down')) leave();
      c.loaderCalls++;
      let value: Bytes;
      try {
        value = await bounded(JSON.stringify(key), loader, frame);
        assertBytes(value, key);
      } catch (err) {
        c.loaderErrors++;
        const served = local.withinGrace(stale);
        if (served) return served;
        throw err;
      }
      await store(key, value, ttl, mark, ticket, l2State, budget - leaseSpent, seen, replaces);
      return { value, source: 'loader', stale: false };
    } finally {
      if (release && leases.forget(release)) guarded.side('lease release', release).catch(releaseFailed);
    }
  }

  /**
   * A lease that cannot be taken (the lease store down or connecting, an ACL refusing the lease
   * keys: NOPERM) means every instance loads its misses itself. That was silent (only counted in
   * `l2Errors`), so a lease that never worked went unnoticed: now one warning, then at most one
   * per minute with the number of failures since.
   */
  let leaseWarnedAt = Number.NEGATIVE_INFINITY;
  let leaseFailures = 0;
  function leaseFailed(err: unknown): void {
    leaseFailures++;
    const at = performance.now();
    if (at - leaseWarnedAt < LEASE_WARN_EVERY) return;
    leaseWarnedAt = at;
    const failures = leaseFailures;
    leaseFailures = 0;
    o.logger?.warn('tiered cache: loader lease not taken, loading locally', {
      cache: 'tiered',
      instanceId: ctx.instanceId,
      failures,
      error: String((err as Error | undefined)?.message ?? err),
    });
  }

  /**
   * A lease that cannot be released (an ACL without `+del`, which the release script runs; the
   * lease store down) stays held by nobody until its `ttl` ends, and the other instances missing
   * the key wait for it — after a failed load, each one its whole `leaseWait` before loading. That
   * was silent (the failure only counted in `l2Errors`): now one warning, then at most one per
   * minute with the number of failures since, as for acquires.
   */
  let releaseWarnedAt = Number.NEGATIVE_INFINITY;
  let releaseFailures = 0;
  function releaseFailed(err: unknown): void {
    releaseFailures++;
    const at = performance.now();
    if (at - releaseWarnedAt < LEASE_WARN_EVERY) return;
    releaseWarnedAt = at;
    const failures = releaseFailures;
    releaseFailures = 0;
    o.logger?.warn(
      'tiered cache: loader lease not released, other instances may wait for it until it expires',
      {
        cache: 'tiered',
        instanceId: ctx.instanceId,
        failures,
        error: String((err as Error | undefined)?.message ?? err),
      },
    );
  }

  /**
   * Takes the lease of `key` (guarded like every L2 call), tracked so that `close()` releases it.
   * A lease granted after the guard gave up waiting for it is released at once: nobody loads under it.
   */
  async function takeLease(
    key: string,
    bound = Number.POSITIVE_INFINITY,
    onBoundSpent?: () => void,
  ): Promise<(() => Promise<void>) | undefined> {
    let acquiring: Promise<(() => Promise<void>) | undefined> | undefined;
    try {
      const taking = guarded.side('lease', () => {
        acquiring = leases.taking((signal) => lease!.acquire(key, { signal }));
        return acquiring;
      });
      if (!(bound < o.l2Timeout)) return await taking;
      return await withTimeout(taking, bound, () => {
        onBoundSpent?.();
        return new CacheError('timeout', `L2 lease did not answer within what the read left of l2Timeout`);
      });
    } catch (err) {
      if (acquiring) leases.late(acquiring);
      throw err;
    }
  }

  /**
   * Calls `loader`, bounded by `loadTimeout`: a loader that never settles would otherwise hold the
   * key's flight, and so every later caller of the key in this process, for good.
   */
  function bounded<T>(what: string, loader: () => T | Promise<T>, frame: LoadFrame): Promise<T> {
    let loading: Promise<T>;
    try {
      loading = Promise.resolve(runIn(frame, loader));
    } catch (err) {
      return Promise.reject(err);
    }
    // Its timer no longer keeps the process alive once the cache is closed (core/load-bound.ts).
    return loadBound.run(
      loading,
      o.loadTimeout,
      () => new CacheError('timeout', `the loader of ${what} did not settle within ${o.loadTimeout} ms`),
    );
  }

  /**
   * Lease waiters asleep between two polls. `close()` wakes them: each then rejects with `closed`
   * at once. Before, a waiter slept out its poll first, so its call rejected, and its timer kept
   * the process alive, up to `leasePoll` ms after `close()` had resolved (~5 s at 5000).
   */
  const napping = new Set<() => void>();
  function nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        napping.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.min(ms, MAX_TIMER_MS));
      napping.add(wake);
    });
  }

  /**
   * Another instance holds the lease: poll L2 for its value, a bounded number of times. While the
   * value is not there, each poll also tries to take the lease: a holder whose load failed has
   * released it, one that died let it expire, and waiting the rest of `leaseWait` for a value that
   * will never come only delays the answer (before, a failed holder's waiters all waited the whole
   * `leaseWait`, then loaded together). The lease taken over is returned: this instance loads.
   * Once the cache is closed, a waiter rejects with `closed` rather than calling the loader.
   */
  async function awaitHolder(
    key: string,
    mark: number,
  ): Promise<TieredResult | (() => Promise<void>) | undefined> {
    const polls = Math.ceil(o.leaseWait / o.leasePoll);
    const fresh = async (): Promise<TieredResult | undefined> => {
      const ticket = fence.ticket();
      const f = await l2Read.get(key);
      if (f === undefined || now() >= f.env.freshUntil || behind.has(key)) return undefined;
      c.leaseWaits++;
      return local.fromL2(key, f, mark, ticket);
    };
    // `leaseWait` is wall-clock time, not a number of polls: each poll's round trips (a read, a
    // lease attempt) add to the sleeps, and counting polls alone made a waiter 60 ms from Redis
    // wait 7.4 s at leaseWait 1000 before loading itself. Polls stop once it has passed.
    const until = performance.now() + o.leaseWait;
    for (let i = 0; i < polls; i++) {
      const left = until - performance.now();
      if (left <= 0) break;
      await nap(Math.min(o.leasePoll, left));
      assertOpen();
      let taken: (() => Promise<void>) | undefined;
      try {
        const got = await fresh();
        if (got) return got;
        taken = await takeLease(key);
      } catch {
        // Closed meanwhile (the poll or the acquire failed for that): no load of a closed cache.
        assertOpen();
        break;
      }
      if (!taken) continue;
      // The holder may have stored its value just before it released the lease.
      const got = await fresh().catch(() => undefined);
      if (!got) return taken;
      if (leases.forget(taken)) guarded.side('lease release', taken).catch(releaseFailed);
      return got;
    }
    c.leaseTimeouts++;
    return undefined;
  }

  /**
   * Stores a loaded value: L1 at once, then L2, awaited within `budget` — what the miss's L2 read
   * left of its one `l2Timeout` — and sent with that budget as its deadline. So when the load
   * returns, its L2 store has landed or never will: it cannot land after a write or delete another
   * client makes once the caller has the value (a store left running could, under network delay).
   * Skipped when the key was written or invalidated since the load began (`mark`), and in L2 when
   * the read did not answer (no budget left). The L2 store is conditional — `ifAbsent` when L2 had
   * no value, `ifEquals` the stale bytes it held (`seen`) otherwise — so a value another instance
   * or program wrote meanwhile is never overwritten; if it was refused, the L1 copy goes too. A
   * failed store is not the caller's error: L2 will be filled by a later miss.
   */
  async function store(
    key: string,
    value: Bytes,
    ttl: number | undefined,
    mark: number,
    ticket: number,
    l2State: L2State,
    budget: number,
    seen: Bytes | undefined,
    replaces: boolean,
  ): Promise<void> {
    // Served while L2 did not answer: L2 may hold an older value of the key (./behind.ts). Also
    // when the key was written since the load began: that write may yet fail.
    if (l2State === 'down') behind.note(key);
    if (!fence.stillValid(key, mark)) return;
    const entry = local.wrap(value, ttl);
    local.fillL1(key, entry, mark, false, ticket);
    if (l2State === 'down') return;
    // L2 answered with an older (stale) value and this one did not land there (no budget left, the
    // store failed or outlasted the budget): as when L2 did not answer, that older value must not be
    // served again, say as stale to a later load that fails (./behind.ts). A store landing later
    // settles the mark.
    const unlanded = () => {
      if (l2State === 'present') behind.note(key);
    };
    if (!(budget >= 1)) return unlanded();
    c.backgroundWrites++;
    const base =
      l2State === 'missing'
        ? { ...l2Write, ifAbsent: true }
        : seen !== undefined
          ? { ...l2Write, ifEquals: seen }
          : l2Write;
    const opts = budget === Number.POSITIVE_INFINITY ? base : { ...base, timeout: Math.floor(budget) };
    // A refusal drops the L1 copy also when it comes after the caller stopped waiting.
    const storing = guarded('set', () =>
      l2.set(key, entry.raw, levelTtl(entry.env.staleUntil, now()), opts),
    ).then((stored) => {
      if (!stored) return fence.stillValid(key, mark) ? l1.delete(key).then(ignore, ignore) : undefined;
      behind.settle(key);
      // It replaced a fresh value, which other instances may hold in L1: tell them, as a write does
      // (before, they served the replaced value until their copy expired).
      if (replaces) return publish({ keys: [key] });
    });
    // A failed store is no error of the caller's: the value is still good for this process.
    await withTimeout(storing, budget, () => new Error('L2 budget spent')).catch(unlanded);
  }

  /**
   * A load that failed (loader error, non-bytes result, an L2 error that is the caller's) is a
   * miss for each of its callers: the key was not in the cache. Before, it counted nothing, so
   * `hitRatio` rose with every failing load.
   */
  function missed(err: unknown): never {
    c.misses++;
    throw err;
  }

  /** Joins the key's flight, or starts it as a load under `chain` (the loads that called it). */
  function loadThrough(
    key: string,
    loader: Loader<Bytes>,
    ttl: number | undefined,
    stale: Envelope | undefined,
    chain: LoadFrame | undefined,
  ): Promise<TieredResult> {
    const frame = loadFrame(local.flights, key, chain);
    return settles(
      frame,
      local.flight(key, (leave) => fetchThrough(key, loader, ttl, stale, leave, frame)),
    );
  }

  /** Keys with a background refresh running (at most one per key). */
  const refreshing = new Set<string>();

  /** Background reload of a hot key near expiry; at most one per key (it is the key's flight). */
  function maybeRefresh(
    key: string,
    env: Envelope,
    t: number,
    loader: Loader<Bytes>,
    ttl: number | undefined,
    chain: LoadFrame | undefined,
  ): void {
    if (o.earlyRefresh === 0 || env.ttl <= 0 || state.closed) return;
    const window = env.ttl * o.earlyRefresh;
    const remaining = env.freshUntil - t;
    // `refreshing` too: a refresh that left the flight map (ctx.untracked) is still running, and
    // with the breaker open every L1 hit in the window would otherwise start another load.
    if (remaining > window || local.flights.has(key) || refreshing.has(key)) return;
    // The chance rises linearly from 0 at the start of the window to 1 at expiry, so a hot key
    // is refreshed early and a cold one is not refreshed for nothing.
    if (random() >= 1 - remaining / window) return;
    c.refreshes++;
    refreshing.add(key);
    const frame = loadFrame(local.flights, key, chain);
    // Outside the caller's async context (core/background.ts): the caller is answered from L1 and
    // may be long done when the loader runs, so spans started there without an explicit parent
    // (auto-instrumentation, `app.ctx` in active-context mode) nested under the request that hit the key.
    runDetached(() =>
      settles(
        frame,
        local.flight(key, (leave) => refresh(key, loader, ttl, env, leave, frame)),
      )
        .catch(ignore)
        .finally(() => refreshing.delete(key)),
    );
  }

  async function refresh(
    key: string,
    loader: Loader<Bytes>,
    ttl: number | undefined,
    current: Envelope,
    leave: () => void,
    frame: LoadFrame,
  ): Promise<TieredResult> {
    const mark = fence.mark();
    const ticket = fence.ticket();
    const asked = performance.now();
    let l2State: L2State = 'missing';
    let seen: Bytes | undefined;
    let replaces = false;
    try {
      // Another instance may have refreshed L2 already: take its value if it is not near expiry too
      // (and not possibly older than one served here, ./behind.ts).
      const f = await l2Read.get(key);
      if (f !== undefined) {
        l2State = 'present';
        seen = f.raw;
        const t = now();
        if (behind.has(key)) replaces = t < f.env.freshUntil;
        else if (f.env.freshUntil > current.freshUntil && f.env.freshUntil - t > f.env.ttl * o.earlyRefresh)
          return local.fromL2(key, f, mark, ticket);
      }
    } catch (err) {
      if (!isOutage(err)) throw err;
      l2State = 'down';
    }
    return load(
      key,
      loader,
      ttl,
      current,
      mark,
      ticket,
      l2State,
      budgetLeft(asked),
      leave,
      frame,
      seen,
      replaces,
    );
  }

  /**
   * The L2 half of `get`: a fresh L2 value (copied into L1), else a miss. When L2 cannot answer,
   * `staleL1` is served if it is inside its grace window.
   */
  async function readL2(key: string, staleL1: Envelope | undefined): Promise<TieredResult | undefined> {
    const mark = fence.mark();
    const ticket = fence.ticket();
    const since = behind.mark();
    let f: Fetched | undefined;
    try {
      f = await l2Read.get(key);
    } catch (err) {
      if (!isOutage(err)) throw err;
      c.misses++;
      const served = local.withinGrace(staleL1);
      if (served) c.staleServes++;
      return served;
    }
    if (f === undefined) behind.settle(key, since);
    else if (now() < f.env.freshUntil && !behind.has(key)) {
      c.l2Hits++;
      return local.fromL2(key, f, mark, ticket);
    }
    c.misses++;
    return undefined;
  }

  return {
    bounded,
    releaseLoads: () => loadBound.release(),
    wakeWaiters() {
      for (const wake of [...napping]) wake();
    },
    async get(key) {
      const t = now();
      assertOpen();
      assertTieredKey(key, o.reservedKeyPrefix);
      const env = decodeRaw(l1Sync ? l1Sync.get(key) : await l1.get(key));
      if (env && t < env.freshUntil) {
        c.l1Hits++;
        return env.value;
      }
      return (await readL2(key, undefined))?.value;
    },

    async getWithMeta(key) {
      assertOpen();
      assertTieredKey(key, o.reservedKeyPrefix);
      const t = now();
      const env = decodeRaw(l1Sync ? l1Sync.get(key) : await l1.get(key));
      if (env && t < env.freshUntil) {
        c.l1Hits++;
        return { value: env.value, source: 'l1', stale: false };
      }
      return readL2(key, env);
    },

    async has(key) {
      assertOpen();
      assertTieredKey(key, o.reservedKeyPrefix);
      const t = now();
      const env = decodeRaw(l1Peek ? l1Peek(key) : await peekL1(key));
      if (env && t < env.freshUntil) return true;
      try {
        const raw = await guarded('get', () => peekL2(key));
        return raw !== undefined && now() < readFetched(raw).env.freshUntil && !behind.has(key);
      } catch (err) {
        // invalid_value: a key of another Redis type holds no readable value (./l2-read.ts).
        if (!isOutage(err) && (err as { code?: unknown }).code !== 'invalid_value') throw err;
        return false;
      }
    },

    async getOrSet(key, loader, ttl = o.ttl) {
      // The L1-hit path is inlined: it is the hot one, and it allocates no result object.
      const t = now();
      // The loads whose loaders called this one (synchronously), read before the first await.
      const chain = loadChain();
      assertOpen();
      assertTieredKey(key, o.reservedKeyPrefix);
      assertTtl(ttl);
      checkLoader(loader);
      const env = decodeRaw(l1Sync ? l1Sync.get(key) : await l1.get(key));
      if (env && t < env.freshUntil) {
        c.l1Hits++;
        if (o.earlyRefresh > 0) maybeRefresh(key, env, t, loader, ttl, chain);
        return env.value;
      }
      assertNotOwnLoad(chain, local.flights, key, 'getOrSet');
      const stale = env && t < env.staleUntil ? env : undefined;
      const result = await loadThrough(key, loader, ttl, stale, chain).catch(missed);
      countSource(c, result.source);
      return result.value;
    },

    async getOrSetWithMeta(key, loader, ttl = o.ttl) {
      const chain = loadChain();
      assertOpen();
      assertTieredKey(key, o.reservedKeyPrefix);
      assertTtl(ttl);
      checkLoader(loader);
      const t = now();
      const env = decodeRaw(l1Sync ? l1Sync.get(key) : await l1.get(key));
      if (env && t < env.freshUntil) {
        c.l1Hits++;
        maybeRefresh(key, env, t, loader, ttl, chain);
        return { value: env.value, source: 'l1', stale: false };
      }
      assertNotOwnLoad(chain, local.flights, key, 'getOrSetWithMeta');
      const stale = env && t < env.staleUntil ? env : undefined;
      const result = await loadThrough(key, loader, ttl, stale, chain).catch(missed);
      countSource(c, result.source);
      return result;
    },
  };
}
