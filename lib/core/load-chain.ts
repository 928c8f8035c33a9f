/**
 * The chain of loads whose loaders are running, shared by every cache of the package (memory,
 * Redis, tiered, no-op) and the typed view: a `getOrSet` called from inside a loader, of a key
 * whose load is in the chain that called it, would join the load it runs in, and the two would
 * wait for each other for good (or until `loadTimeout`). It rejects with `invalid_key` instead.
 *
 * One chain for all caches: a memory cache's loader of `a` calling a tiered cache's `getOrSet('b')`
 * whose loader calls the memory cache's `getOrSet('a')` is recognised too (each cache kind kept
 * its own chain, and such a cycle waited for good).
 *
 * A plain variable, not an `AsyncLocalStorage`: entering one enables async hooks for the whole
 * process on Node 20 (every `await cache.get()` of the memory cache went from 163 to 390 ns). So
 * the chain is read when a cache's `getOrSet` is called, and a call made after the loader's first
 * `await` is not recognised (documented; `loadTimeout` bounds it).
 */
import { CacheError } from './errors.js';

export interface LoadFrame {
  /** The flight structure the load runs in (one per cache and kind). */
  readonly owner: object;
  /**
   * The key the load loads, or the keys of a batch as a set: a batch's loader calling `getOrSet`
   * for each of n other keys checks every frame n times (as a list, 40,000 keys took ~55 s).
   */
  readonly keys: string | ReadonlySet<string>;
  /**
   * The load's shared promise, for caches that tell a load apart by the promise a caller would
   * join (a key's load may have been detached by a write and a new one started).
   */
  load: Promise<unknown> | undefined;
  /** The load settled: nothing waits behind it any more (a loader's prefetch may outlive it). */
  settled: boolean;
  /** The load whose loader (synchronously) called the `getOrSet` that started this one, of any cache. */
  readonly outer: LoadFrame | undefined;
}

/** The load whose loader's synchronous part is running now. */
let running: LoadFrame | undefined;

/** The chain of loads whose loaders are calling now: read when a `getOrSet` is called. */
export const loadChain = (): LoadFrame | undefined => running;

/** A frame for a load of `keys` in `owner`, started by a call made under `outer`. */
export function loadFrame(
  owner: object,
  keys: string | readonly string[],
  outer: LoadFrame | undefined,
): LoadFrame {
  return {
    owner,
    keys: typeof keys === 'string' ? keys : new Set(keys),
    load: undefined,
    settled: false,
    outer,
  };
}

/**
 * Calls `fn` with `chain` as the running chain for its synchronous part: a loader (`chain` its
 * load's frame), or a call made for a caller after it awaited (the chain read at that call).
 */
export function runIn<T>(chain: LoadFrame | undefined, fn: () => T): T {
  const outer = running;
  running = chain;
  try {
    return fn();
  } finally {
    running = outer;
  }
}

/** Marks `frame` settled; a frame still referenced (as another load's `outer`) keeps no promise. */
export function settle(frame: LoadFrame): void {
  frame.settled = true;
  frame.load = undefined;
}

/** Marks `frame` settled once `load` settles; returns `load`. */
export function settles<T>(frame: LoadFrame, load: Promise<T>): Promise<T> {
  const done = () => settle(frame);
  load.then(done, done);
  return load;
}

/**
 * Whether an unsettled load of `key` in `owner` is in `chain` (and, when `load` is given, it is
 * that promise: the one the call would join): a call there would wait for itself.
 */
export function waitsForItself(
  chain: LoadFrame | undefined,
  owner: object,
  key: string,
  load?: Promise<unknown>,
): boolean {
  for (let f = chain; f !== undefined; f = f.outer) {
    if (f.owner !== owner || f.settled || (load !== undefined && f.load !== load)) continue;
    if (typeof f.keys === 'string' ? f.keys === key : f.keys.has(key)) return true;
  }
  return false;
}

/** The `invalid_key` refusal of a `what` (`getOrSet`, …) that would wait for itself. */
export const selfWaitError = (what: string): CacheError =>
  new CacheError(
    'invalid_key',
    `${what} was called, from inside the loader of a key, for that same key: the load ` +
      'would wait for itself (use get/set inside a loader)',
  );

/** Throws {@link selfWaitError} when {@link waitsForItself}. */
export function assertNotOwnLoad(
  chain: LoadFrame | undefined,
  owner: object,
  key: string,
  what: string,
  load?: Promise<unknown>,
): void {
  if (waitsForItself(chain, owner, key, load)) throw selfWaitError(what);
}
