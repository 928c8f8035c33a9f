/**
 * The process-local side of a tiered cache: the envelopes written to the levels, the copies put
 * into L1 (capped at `l1Ttl`, fenced against invalidations that raced the read), the per-key
 * flights, and local drops. Every path that fills or drops L1 goes through here, so the fence
 * rules live in one place.
 */
import type { Bytes, Cache } from '../../core/contracts.js';
import { MAX_CALL_TTL_MS } from '../../core/validate.js';
import type { Fence } from './coherence.js';
import { decodeEnvelope, type Envelope, encodeEnvelope } from './envelope.js';
import type { ResolvedOptions } from './options.js';
import { jitterTtl } from './timing.js';
import type { TieredResult } from './types.js';

/** An entry as read from a level, or as made for a write. */
export interface Fetched {
  env: Envelope;
  /** The raw bytes as read (reused for the L1 copy when no re-encoding is needed). */
  raw: Bytes;
  /** A value without envelope, written by something other than a tiered cache. */
  foreign: boolean;
  /**
   * When L2 expires the entry (this cache's clock), if L2 said (`getManyWithTtl`): a TTL another
   * client set can end before the envelope's deadline, and the L1 copy must not outlive it.
   */
  expiresAt?: number | undefined;
}

/**
 * How much earlier than the envelope's end L2's expiry must be to cap an L1 copy. Our own writes
 * give L2 the envelope's end as TTL, and the expiry we compute from PTTL lands a round trip before
 * it: without this slack every such read would re-encode the L1 copy for a millisecond or two.
 */
const EXPIRY_SLACK_MS = 50;

/** Swallows the result of best-effort local work. */
export const ignore = () => {};

/**
 * Physical TTL (ms) for a level, from an absolute deadline; `undefined` = no expiry. At most
 * `MAX_CALL_TTL_MS`: a TTL near that limit plus jitter or grace would otherwise be refused by the
 * level (`invalid_ttl`) although the caller's TTL was accepted.
 */
export function levelTtl(until: number, t: number): number | undefined {
  if (until === Number.POSITIVE_INFINITY) return undefined;
  return Math.min(MAX_CALL_TTL_MS, Math.max(1, Math.ceil(until - t)));
}

/**
 * `bytes` as an array that owns its whole ArrayBuffer: a copy when it is a view into a larger one
 * (a Redis reply's buffer holds every value of the reply, so one slice kept in L1 keeps the whole
 * reply alive, uncounted by L1's `maxCost`), else `bytes` itself.
 */
export function ownedBytes(bytes: Bytes): Bytes {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  // allocUnsafeSlow: never a slice of Node's shared pool (Buffer.from would be, for small values).
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/**
 * Reads a level's bytes; a value without envelope is taken as fresh forever (`foreign`).
 * `expiresAt`: when the level expires it, if known.
 */
export function readFetched(raw: Bytes, expiresAt?: number): Fetched {
  const env = decodeEnvelope(raw);
  if (env) return { env, raw, foreign: false, expiresAt };
  const inf = Number.POSITIVE_INFINITY;
  return { env: { value: raw, freshUntil: inf, staleUntil: inf, ttl: 0 }, raw, foreign: true, expiresAt };
}

/** The envelope in an L1 copy (L1 only ever holds envelopes), or `undefined` on a miss. */
export function decodeRaw(raw: Bytes | undefined): Envelope | undefined {
  return raw === undefined ? undefined : decodeEnvelope(raw);
}

/** The key lister of a cache that has one (the memory cache's `sync.keys`), else `undefined`. */
function keyLister(cache: Cache): (() => string[]) | undefined {
  const sync = (cache as { sync?: { keys?: unknown } }).sync;
  return typeof sync?.keys === 'function' ? () => (sync as { keys(): string[] }).keys() : undefined;
}

/** The synchronous reader of a cache that has one (`sync.get`), else `undefined`. */
function syncFace(cache: Cache): { get(key: string): Bytes | undefined } | undefined {
  const sync = (cache as { sync?: { get?: unknown } }).sync;
  return typeof sync?.get === 'function' ? (sync as { get(key: string): Bytes | undefined }) : undefined;
}

/** The synchronous peek of a cache that has one (`sync.peek`: no access counted), else `undefined`. */
export function peekFace(cache: Cache): ((key: string) => Bytes | undefined) | undefined {
  const sync = (cache as { sync?: { peek?: unknown } }).sync;
  return typeof sync?.peek === 'function'
    ? (key) => (sync as { peek(key: string): Bytes | undefined }).peek(key)
    : undefined;
}

/**
 * A read of `cache` that counts no access, for the tiered cache's `has` and conditional `set`: the
 * memory cache's `sync.peek`, a Redis cache's `peek`, else `get` (a custom level without either).
 * They read the levels with `get`, so each level's own `stats()` (and frequency, for a memory
 * level) counted hits and misses of reads its user never made: a `has` was an L1 hit or miss and
 * an L2 miss, a refused `ifAbsent` an L2 hit.
 */
export function uncountedRead(cache: Cache): (key: string) => Promise<Bytes | undefined> {
  const peek = peekFace(cache);
  const own = (cache as { peek?: unknown }).peek;
  const read: (key: string) => Bytes | undefined | Promise<Bytes | undefined> = peek
    ? peek
    : typeof own === 'function'
      ? (key) => (own as (key: string) => Promise<Bytes | undefined>).call(cache, key)
      : (key) => cache.get(key);
  // A level that throws (closed) rejects, as its `get` would: callers chain `.catch`.
  return (key) => {
    try {
      return Promise.resolve(read(key));
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

/**
 * Whether L1 may be filled now (server-assisted tracking, ./tracking.ts). Without tracking both stay
 * true. With it, `trusted` is false while invalidations may be lost, and `writeFills` is false: only
 * a value just read from L2 (its read tracked by the server) may enter L1, never one this process
 * wrote or loaded (a write stops the server tracking that key for this connection).
 */
export interface FillGate {
  trusted: boolean;
  writeFills: boolean;
  /**
   * With a bus: false until its first subscription is live (./invalidation.ts). Before that, an
   * invalidation another instance publishes reaches no one here, so a copy put into L1 could be
   * served after its key changed, for up to `l1Ttl`. Without a bus it stays true.
   */
  subscribed: boolean;
  /**
   * Fills need a read that began at or after this fence mark (set when the bus's first
   * subscription went live: a read begun before may carry a value whose invalidation went to no
   * one). Unlike an invalidation it does not cancel those reads' L2 stores: nothing was written.
   */
  since: number;
}

export interface Local {
  /** L1's synchronous face (as the memory cache's `sync`): saves a promise per L1 read on the hot path. */
  readonly l1Sync: { get(key: string): Bytes | undefined } | undefined;
  /** The running load per key (one per key: the singleflight spans levels). */
  readonly flights: Map<string, Promise<TieredResult>>;
  /** A new envelope for `value`: TTL jittered, grace appended. */
  wrap(value: Bytes, ttl: number | undefined): Fetched;
  /**
   * Copies an entry into L1, its freshness capped at `l1Ttl`, unless the key was invalidated since
   * `mark` (then the value may be older than what another writer just stored). `fromRead`: the
   * entry was just read from L2 (else it was written or loaded here; see {@link FillGate}).
   * `batch`: the ticket is that of a multi-key L2 read (`getMany`), see `fillL1`.
   */
  fillL1(key: string, f: Fetched, mark: number, fromRead?: boolean, ticket?: number, batch?: boolean): void;
  /** A fresh L2 entry as a result, copied into L1 on the way (see `fillL1`). */
  fromL2(key: string, f: Fetched, mark: number, ticket: number, batch?: boolean): TieredResult;
  /** `env` served as stale when still inside its grace window, else `undefined`. */
  withinGrace(env: Envelope | undefined): TieredResult | undefined;
  /**
   * Joins the flight for `key` or starts `fn` as the new one. `fn` gets `leave`: it takes that
   * flight out of the map (if it is still the key's), so callers from then on start a new one while
   * those that joined keep waiting for it.
   */
  flight(key: string, fn: (leave: () => void) => Promise<TieredResult>): Promise<TieredResult>;
  /** After a write of `key`: older fills are fenced off and new readers start a new flight. */
  forget(key: string): void;
  /** `forget` plus removing the L1 copy. */
  drop(key: string): Promise<unknown>;
  /** `drop` for every key. */
  dropAll(): Promise<unknown>;
  /**
   * A coherence clear that is no write (tracking lost or confirmed, the bus subscribed): L1 is
   * cleared and a read begun before may not fill it (`FillGate.since`), but a load begun before
   * still stores its value in L2 (conditionally, as always); callers from now on start new
   * flights. `dropAll`'s fence cancelled those stores too, so the first getOrSet of a cache made a
   * moment before its tracker confirmed never reached Redis.
   */
  clearFills(): Promise<unknown>;
  /** The bus's first subscription is live: `clearFills`, then L1 may be filled. */
  openFills(): void;
  /**
   * Drops the L1 copies of the keys `affected` selects, and fences every fill of a read that
   * began before (any key: a read on its way may have been answered by a server that no longer
   * owns its key). O(L1 keys). Returns false when L1 cannot list its keys: then it was cleared.
   */
  dropWhere(affected: (key: string) => boolean): boolean;
}

export function createLocal(
  o: ResolvedOptions,
  fence: Fence,
  gate: FillGate = { trusted: true, writeFills: true, subscribed: true, since: 0 },
): Local {
  const { l1, now, random, grace } = o;
  const flights = new Map<string, Promise<TieredResult>>();
  // A ticket taken once each flight had sent its L2 read (Fence.ticket): see `passOlderFlight`.
  const flightTickets = new WeakMap<Promise<TieredResult>, number>();
  const listKeys = keyLister(l1);
  const peek = peekFace(l1);

  /**
   * Two reads of `key` that cannot be ordered (Fence.newest `'drop'`): the L1 copy goes unless it
   * holds the same value as `value` (then either is right, and a hot key read by `getMany` and
   * `get` together keeps its copy). An L1 without a synchronous peek is not compared.
   */
  function unordered(key: string, value: Bytes): void {
    const held = peek ? decodeRaw(peek(key))?.value : undefined;
    if (held === undefined || Buffer.compare(held, value) !== 0) unfilled(key);
  }

  /**
   * A fresh L2 value of `key` read by `ticket` is going to a caller: a flight of that key whose L2
   * read was sent before (or, for a multi-key read, which may be sent in parts, at any time) may
   * bring an older value — a load begun before the write that read saw — so callers from now on
   * start a new flight rather than join it (those that joined keep waiting for it). The fence keeps
   * such a flight's value out of L1, but when the newer value did not enter L1 (larger than its
   * `maxCost`, refused by admission, a fill dropped as unordered), the caller's next `getOrSet`
   * joined the older flight and got its value, until the invalidation of the write arrived.
   */
  function passOlderFlight(key: string, ticket: number, batch: boolean): void {
    const running = flights.get(key);
    if (running === undefined) return;
    const sent = flightTickets.get(running);
    if (batch || sent === undefined || sent < ticket) flights.delete(key);
  }

  /**
   * `ticket`: the fence ticket of the L2 read the value came from (`Fence.ticket`, taken before
   * it was sent); a write or load without one takes a new one, as the newest.
   */
  function fillL1(
    key: string,
    f: Fetched,
    mark: number,
    fromRead = false,
    ticket?: number,
    batch = false,
  ): void {
    if (fromRead && ticket !== undefined) passOlderFlight(key, ticket, batch);
    if (!gate.trusted || !gate.subscribed || mark < gate.since) return;
    if (!fromRead && !gate.writeFills) {
      // The older L1 copy must not outlive this write either.
      l1.delete(key).catch(ignore);
      return;
    }
    const t = now();
    let { freshUntil, staleUntil, ttl } = f.env;
    let bytes = f.raw;
    if (f.foreign) {
      // Expiry unknown: cache it locally only for a bounded time, if one was configured. Not
      // cached, it must not leave an older copy behind either (see `unfilled`).
      if (o.l1Ttl === undefined) {
        unfilled(key);
        return;
      }
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
    const expiresAt = f.expiresAt;
    if (expiresAt !== undefined && expiresAt < staleUntil - EXPIRY_SLACK_MS) {
      // L2 drops the key sooner than the envelope says (a TTL another client set): Redis reports
      // an expiry only once it deletes the key, which can take minutes, so L1 must end with it.
      freshUntil = Math.min(freshUntil, expiresAt);
      staleUntil = expiresAt;
      bytes = encodeEnvelope(f.env.value, freshUntil, staleUntil, ttl);
    }
    // Fenced: the invalidation that fenced it dropped the L1 copy already. Not so for a multi-key
    // read sent in parts (Fence.newest): a single-key read called after that invalidation may
    // have been sent before this key's part and filled L1 with an older value since; it goes,
    // as does one such read's fill still to come (the read's span is recorded).
    if (!fence.stillValid(key, mark)) {
      if (batch && ticket !== undefined) {
        fence.newest(key, ticket, true);
        unordered(key, f.env.value);
      }
      return;
    }
    if (staleUntil <= t) {
      unfilled(key);
      return;
    }
    // A read sent after this one filled L1 already: its value is the same or newer. For a
    // multi-key read, whose parts L2 may send over several turns, that order is not known against
    // a single-key read called meanwhile: then neither copy stays unless both hold the same value
    // (Fence.newest).
    const order = fence.newest(key, ticket ?? fence.ticket(), batch);
    if (order !== 'fill') {
      if (order === 'drop') unordered(key, f.env.value);
      return;
    }
    // The bytes as read from L2 may be a slice of its reply: L1 keeps only what it counts.
    l1.set(key, ownedBytes(bytes), levelTtl(staleUntil, t)).then(
      (stored) => (stored ? undefined : unfilled(key)),
      () => unfilled(key),
    );
  }

  /**
   * A value that should have replaced the L1 copy of `key` did not enter L1 (already expired, a
   * foreign value without `l1Ttl`, or refused by L1: costlier than its `maxCost`, an unusable
   * cost, admission): the older copy must go, or it is served over the value just written or read.
   * Before, a `set` of a value larger than L1's `maxCost`, or with a TTL that ran out during its
   * L2 write, left the previous value in L1, and `get` returned it for that copy's whole life.
   */
  function unfilled(key: string): void {
    l1.delete(key).catch(ignore);
  }

  function clearFills(): Promise<unknown> {
    gate.since = fence.advance();
    flights.clear();
    return l1.clear().catch(ignore);
  }

  function forget(key: string): void {
    fence.invalidate(key);
    flights.delete(key);
  }

  return {
    l1Sync: syncFace(l1),
    flights,

    wrap(value, ttl) {
      const t = now();
      const life = ttl === undefined ? undefined : jitterTtl(ttl, o.jitter, random);
      const freshUntil = life === undefined ? Number.POSITIVE_INFINITY : t + life;
      const staleUntil = freshUntil + grace;
      const raw = encodeEnvelope(value, freshUntil, staleUntil, life ?? 0);
      return { env: { value, freshUntil, staleUntil, ttl: life ?? 0 }, raw, foreign: false };
    },

    fillL1,

    fromL2(key, f, mark, ticket, batch = false) {
      fillL1(key, f, mark, true, ticket, batch);
      return { value: f.env.value, source: 'l2', stale: false };
    },

    withinGrace(env) {
      return env && now() < env.staleUntil ? { value: env.value, source: 'stale', stale: true } : undefined;
    },

    flight(key, fn) {
      const running = flights.get(key);
      if (running) return running;
      let p: Promise<TieredResult> | undefined;
      // Called once fn has gone async (it never calls it synchronously): p is set by then.
      const leave = () => {
        if (p !== undefined && flights.get(key) === p) flights.delete(key);
      };
      const started = fn(leave);
      p = started;
      flights.set(key, started);
      // After fn's synchronous start, which took the ticket of its L2 read (or, for a batch's
      // keys, after the batch's read was called): a read with a later ticket was sent after it.
      flightTickets.set(started, fence.ticket());
      const done = () => {
        if (flights.get(key) === started) flights.delete(key);
      };
      started.then(done, done);
      return started;
    },

    forget,

    drop(key) {
      forget(key);
      return l1.delete(key).catch(ignore);
    },

    dropAll() {
      fence.invalidateAll();
      flights.clear();
      return l1.clear().catch(ignore);
    },

    clearFills,

    openFills() {
      clearFills();
      gate.subscribed = true;
    },

    dropWhere(affected) {
      fence.invalidateAll();
      flights.clear();
      let keys: string[];
      try {
        if (!listKeys) throw new Error('L1 cannot list its keys');
        keys = listKeys();
      } catch {
        l1.clear().catch(ignore);
        return false;
      }
      for (const key of keys) if (affected(key)) l1.delete(key).catch(ignore);
      return true;
    },
  };
}
