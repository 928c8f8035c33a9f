/**
 * The single-key operations of the cache: get, set, delete, has, and getOrSet (which fails open:
 * when Redis cannot answer, the loader's value is returned). Bad input rejects with a typed
 * CacheError before anything is sent.
 */
import type { Bytes, Loader } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import { createLoadBound } from '../../core/load-bound.js';
import {
  assertNotOwnLoad,
  type LoadFrame,
  loadChain,
  loadFrame,
  runIn,
  settle,
} from '../../core/load-chain.js';
import { createNextflight, createSingleflight } from '../../core/singleflight.js';
import { assertBytes, assertWriteOptions } from '../../core/validate.js';
import { assertKey, checkBudget, checkIfEquals, checkTtl, checkValue, MAX_VALUE_BYTES } from './checks.js';
import { NOT_STORED, TOO_LATE, tooLate } from './deadline.js';
import type { CacheContext } from './dispatch.js';
import { closedError } from './errors.js';
import { steadyNow } from './steady.js';
import type { RedisCache } from './types.js';

export type KeyCommands = Pick<RedisCache, 'get' | 'peek' | 'set' | 'delete' | 'has' | 'getOrSet'> & {
  /** Tells loads in flight that `keys` (or every key) were written by a multi-key operation. */
  wrote(keys: readonly string[] | 'all'): void;
  /** For `close()`: the `loadTimeout` timers of loads in flight stop keeping the process alive. */
  releaseLoads(): void;
};

/** Runs synchronous input checks so that misuse rejects (async contract) instead of throwing. */
function checked<R>(check: () => Promise<R>): Promise<R> {
  try {
    return check();
  } catch (err) {
    return Promise.reject(err);
  }
}

const isString = (type: string) => type === 'string';

export function createKeyCommands(ctx: CacheContext): KeyCommands {
  const { client, prefix, defaultTtl, loadTimeout, counters, dispatch, writes } = ctx;
  const flights = createSingleflight<Bytes>();
  // Loads for callers whose read got no answer (see getOrSet).
  const blindLoads = createNextflight<Bytes>();
  const loadBound = createLoadBound();
  // Names the key, as the tiered cache's does: "the loader did not settle" alone left a log
  // reader to guess which of the keys loading timed out.
  const loadTimedOut = (key: string) =>
    new CacheError('timeout', `the loader of ${JSON.stringify(key)} did not settle within ${loadTimeout} ms`);
  // One handler for the script's reply (was a `.then(inTime)` before exec's own `.then`: one
  // promise less per SET): a write refused for arriving after its deadline rejects like a timeout,
  // counted and reported as exec's failures are.
  const storedInTime = (reply: number, key: string | undefined) => {
    if (reply === TOO_LATE) throw dispatch.refuse('set', tooLate(), key);
    return reply !== NOT_STORED;
  };
  // Likewise for the guarded delete's reply (the number of keys removed, or TOO_LATE).
  const deletedInTime = (reply: number, key: string | undefined) => {
    if (reply === TOO_LATE) throw dispatch.refuse('delete', tooLate(), key);
    return reply > 0;
  };
  // Keys with loads in flight -> one mark per load, set when the key is written (through this
  // cache) while it runs. A load stores its value only if unmarked: a concurrent write wins.
  const loading = new Map<string, Set<{ written: boolean }>>();
  const wrote = (key: string) => {
    if (loading.size === 0) return;
    const marks = loading.get(key);
    if (marks === undefined) return;
    for (const m of marks) m.written = true;
    // Callers that start after this write must not join a load that began before it.
    flights.forget(key);
  };
  const failSet = dispatch.fail('set');
  const failDelete = dispatch.fail('delete');
  const failHas = dispatch.fail('has');

  async function getOrSet(key: string, loader: Loader<Bytes>, ttl?: number): Promise<Bytes> {
    assertKey(key);
    const px = checkTtl(ttl, defaultTtl);
    if (typeof loader !== 'function')
      throw new CacheError('invalid_value', 'getOrSet expects a loader function');
    // The loads whose loaders called this one (synchronously), of any cache, read before the
    // first await.
    const chain = loadChain();
    let cached: Buffer | null = null;
    // A read that got no answer (timeout, lost connection…): the loader answers, and its value is
    // not stored — against a hung server the store would wait a second command timeout, and the
    // cache could not know whether the key held a value anyway (as the tiered cache does for L2).
    let unanswered = false;
    try {
      // The key names its node in a cluster (the logged failure of a fail-open read included).
      cached = await dispatch.run('get', () => client.getBuffer(prefix + key), true, prefix + key);
    } catch (err) {
      // After close() the caller called getOrSet, not get: the message says so.
      if ((err as CacheError).code === 'closed') throw closedError('getOrSet');
      // Fail open: already counted and reported by run(); the loader answers instead.
      unanswered = true;
    }
    if (cached !== null) {
      counters.hits++;
      return cached;
    }
    counters.misses++;
    // Bounded by loadTimeout: a loader that never settles would otherwise hold the key's flight,
    // and so every later getOrSet of the key in this process. A late value is dropped.
    // Its timer no longer keeps the process alive once the cache is closed (core/load-bound.ts).
    const load = (frame: LoadFrame) =>
      loadBound.run(
        Promise.resolve().then(() => runIn(frame, loader)),
        loadTimeout,
        () => loadTimedOut(key),
      );
    // A read that got no answer cannot have seen a write another client made after a load of the
    // key began here, so this caller never joins a load begun before it (the faulted model test
    // found one returning a value older than a direct client's acknowledged set): it shares the
    // next load of the key with the others who arrive while one runs. Nothing is stored (above).
    if (unanswered) {
      // At most one load of a key runs: one still running in this call's chain would be waited for.
      assertNotOwnLoad(chain, blindLoads, key, 'getOrSet');
      const frame = loadFrame(blindLoads, key, chain);
      return blindLoads.do(key, async () => {
        try {
          const value = await load(frame);
          assertBytes(value, key);
          return value;
        } finally {
          settle(frame);
        }
      });
    }
    const frame = loadFrame(flights, key, chain);
    const joined = flights.do(key, async () => {
      const mark = { written: false };
      const marks = loading.get(key) ?? new Set<{ written: boolean }>();
      loading.set(key, marks);
      marks.add(mark);
      try {
        const value = await load(frame);
        assertBytes(value, key);
        // A value over Redis's 512 MiB is the callers' answer all the same, served uncached, as the
        // memory cache serves one over its maxCost (it rejected with `too_large`, where a value the
        // server itself refuses, over its proto-max-bulk-len, was served: fail-open).
        if (value.byteLength > MAX_VALUE_BYTES) return value;
        const buf = checkValue(value, key);
        // Stored only if nobody wrote the key meanwhile: not through this cache (the mark, checked
        // again when the command is sent), and not through another client (NX: the key was absent
        // when the load began). After a read that got no answer nothing comes here (blindLoads).
        if (mark.written) return value;
        const store = () =>
          mark.written ? Promise.resolve(NOT_STORED) : writes.set(prefix + key, buf, px, true);
        try {
          await dispatch.run('set', store, true, prefix + key);
        } catch {
          // Fail open, as above: the value is still the right answer.
        }
        return value;
      } finally {
        marks.delete(mark);
        if (marks.size === 0 && loading.get(key) === marks) loading.delete(key);
      }
    });
    // Joined a load of this call's own chain (its function did not run: nothing was started).
    assertNotOwnLoad(chain, flights, key, 'getOrSet', joined);
    frame.load = joined;
    return joined;
  }

  return {
    get(key) {
      // No closure per call on this path (was `checked(() => …)` plus a send closure).
      try {
        assertKey(key);
      } catch (err) {
        return Promise.reject(err);
      }
      return dispatch.get(prefix + key);
    },
    peek(key) {
      // A GET that counts no hit or miss: a tiered cache's `has` and conditional `set` read L2
      // with it, so this cache's stats() count only reads its user made (a failure still counts
      // in `errors`, as a failed command of this cache).
      return checked(() => {
        assertKey(key);
        return dispatch
          .run('get', () => client.getBuffer(prefix + key), false, prefix + key)
          .then((value) => value ?? undefined);
      });
    },
    set(key, value, ttl, options) {
      return checked(() => {
        assertKey(key);
        const px = checkTtl(ttl, defaultTtl);
        const buf = checkValue(value, key);
        assertWriteOptions(options);
        const budget = options?.timeout;
        const nx = options?.ifAbsent === true;
        const expect = options?.ifEquals === undefined ? undefined : checkIfEquals(options.ifEquals, key);
        if (nx && expect !== undefined)
          throw new CacheError('invalid_value', 'set: ifAbsent and ifEquals cannot be combined');
        // The write's deadline counts from this call, not from when it is sent: a wait for a
        // connection first must not give a write the caller may already have been told timed out
        // a fresh budget (it would land after the failure was reported).
        const at = steadyNow();
        wrote(key);
        return dispatch.bounded(
          dispatch.exec(
            'set',
            () => writes.set(prefix + key, buf, px, nx, budget, at, expect),
            storedInTime,
            failSet,
            prefix + key,
          ),
          'set',
          budget,
          at,
          prefix + key,
        );
      });
    },
    delete(key, options) {
      return checked(() => {
        assertKey(key);
        const budget = checkBudget(options);
        // The delete's deadline counts from this call, as a write's does (see set).
        const at = steadyNow();
        wrote(key);
        return dispatch.bounded(
          dispatch.exec(
            'delete',
            () => writes.delete([prefix + key], budget, at),
            deletedInTime,
            failDelete,
            prefix + key,
          ),
          'delete',
          budget,
          at,
          prefix + key,
        );
      });
    },
    has(key) {
      return checked(() => {
        assertKey(key);
        // TYPE, not EXISTS: a key another program made a hash, list… holds no value of ours (get
        // rejects it, getMany and a tiered cache read it as a miss), so it is not one either.
        return dispatch.exec('has', () => client.type(prefix + key), isString, failHas, prefix + key);
      });
    },
    getOrSet,
    wrote(keys) {
      if (loading.size === 0) return;
      if (keys === 'all') {
        for (const k of [...loading.keys()]) wrote(k);
        flights.forget();
      } else for (const k of keys) wrote(k);
    },
    releaseLoads: () => loadBound.release(),
  };
}
